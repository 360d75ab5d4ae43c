/* The local directory backend of blobstate (blobstate.h): a document is a file written atomically,
 * its ETag the quoted sha256 of its content, previous versions files under <name>.versions/; the
 * lease is an flock on <name>.lease (gone with the process that held it), writes serialise on an
 * flock of <name>.wlock. */
#include "blobstate.h"

#include "dh_buf.h"
#include "dh_error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int mkdirs(const char *path) {
  char tmp[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof tmp) return -1;
  memcpy(tmp, path, n + 1);
  for (size_t i = 1; i < n; i++) {
    if (tmp[i] == '/') {
      tmp[i] = '\0';
      if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
      tmp[i] = '/';
    }
  }
  if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
  return 0;
}

/* The ETag of a content: its sha256 in hex, quoted. */
static void etag_of(const char *data, size_t len, char out[67]) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256((const unsigned char *)data, len, d);
  static const char hexd[] = "0123456789abcdef";
  out[0] = '"';
  for (size_t i = 0; i < SHA256_DIGEST_LENGTH; i++) {
    out[1 + 2 * i] = hexd[d[i] >> 4];
    out[2 + 2 * i] = hexd[d[i] & 15];
  }
  out[65] = '"';
  out[66] = '\0';
}

/* Reads a whole file into a Lua string pushed on the stack; returns 0, or -1 (nothing pushed) when
 * absent. */
static int push_file(lua_State *L, const char *path) {
  dh_buf *b = dh_buf_lua(L); /* GC-owned: nothing leaks if a Lua error unwinds */
  FILE *f = fopen(path, "rb");
  if (!f) {
    int e = errno;
    lua_pop(L, 1);
    if (e == ENOENT) return -1;
    dh_raise(L, "IO_ERROR", "blobstate: cannot read %s: %s", path, strerror(e));
  }
  char buf[8192];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) dh_buf_add(b, buf, n);
  int err = ferror(f);
  fclose(f);
  if (err) dh_raise(L, "IO_ERROR", "blobstate: error reading %s", path);
  dh_buf_check(L, b);
  lua_pushlstring(L, b->data ? b->data : "", b->len);
  lua_remove(L, -2);
  return 0;
}

static void local_path(lua_State *L, const store *st, const char *name, const char *suffix, char *out, size_t n) {
  int w = snprintf(out, n, "%s/%s%s", st->path, name, suffix);
  if (w < 0 || (size_t)w >= n) dh_raise(L, "INVALID_ARGUMENT", "blobstate: path too long for %s", name);
}

static void parent_dirs(lua_State *L, const char *file) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s", file);
  char *sl = strrchr(dir, '/');
  if (!sl) return;
  *sl = '\0';
  if (mkdirs(dir) != 0) dh_raise(L, "IO_ERROR", "blobstate: cannot create %s: %s", dir, strerror(errno));
}

static int write_file_atomic(const char *path, const char *data, size_t len) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd < 0) return -1;
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(fd, data + off, len - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      close(fd);
      unlink(tmp);
      return -1;
    }
    off += (size_t)w;
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    unlink(tmp);
    return -1;
  }
  if (rename(tmp, path) != 0) {
    unlink(tmp);
    return -1;
  }
  return 0;
}

/* Holder and since from a lock file ("holder=...\nsince=...\n"), pushed as two strings. */
static void push_lock_info(lua_State *L, int fd) {
  char buf[1024];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n < 0) n = 0;
  buf[n] = '\0';
  const char *h = strstr(buf, "holder="), *s = strstr(buf, "since=");
  if (h) {
    h += 7;
    lua_pushlstring(L, h, strcspn(h, "\n"));
  } else {
    lua_pushnil(L);
  }
  if (s) {
    s += 6;
    lua_pushlstring(L, s, strcspn(s, "\n"));
  } else {
    lua_pushnil(L);
  }
}

/* Is the lock file still the one at its path (not broken and replaced)? */
static int same_file(int fd, const char *path) {
  struct stat a, b;
  return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

static int local_read(lua_State *L, store *st, const char *name) {
  char p[4096];
  local_path(L, st, name, "", p, sizeof p);
  if (push_file(L, p) != 0) {
    lua_pushnil(L);
    return 1;
  }
  size_t len;
  const char *s = lua_tolstring(L, -1, &len);
  char etag[67];
  etag_of(s, len, etag);
  lua_pushstring(L, etag);
  return 2;
}

static int local_write(lua_State *L, store *st, const char *name, const char *body, size_t blen, const bs_cond *cond) {
  char p[4096], wl[4200], lk[4200];
  local_path(L, st, name, "", p, sizeof p);
  local_path(L, st, name, ".wlock", wl, sizeof wl);
  local_path(L, st, name, ".lease", lk, sizeof lk);
  parent_dirs(L, p);
  int wfd = open(wl, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (wfd < 0) dh_raise(L, "IO_ERROR", "blobstate: cannot open %s: %s", wl, strerror(errno));
  if (flock(wfd, LOCK_EX) != 0) {
    close(wfd);
    dh_raise(L, "IO_ERROR", "blobstate: cannot lock %s", wl);
  }
  /* refuse when another holder has the lease */
  if (!bs_held_lease(st, name)) {
    int lfd = open(lk, O_RDONLY | O_CLOEXEC);
    if (lfd >= 0) {
      if (flock(lfd, LOCK_SH | LOCK_NB) != 0) {
        push_lock_info(L, lfd);
        close(lfd);
        close(wfd);
        return bs_raise_locked(L, name, -2, -1, BS_LEASE_WITH_HOLDER);
      }
      close(lfd);
    }
  }
  int have = push_file(L, p) == 0;
  char cur[67] = "";
  if (have) {
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    etag_of(s, len, cur);
  }
  if ((cond->if_none_match && have) ||
      (cond->if_match && (!have || (strcmp(cond->if_match, "*") != 0 && strcmp(cond->if_match, cur) != 0)))) {
    close(wfd);
    return bs_raise_condition(L, name, cond, NULL);
  }
  if (have) {
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    char vn[1024], vp[4096];
    bs_version_name(vn, sizeof vn, name, cur);
    local_path(L, st, vn, "", vp, sizeof vp);
    parent_dirs(L, vp);
    if (write_file_atomic(vp, s, len) != 0) {
      close(wfd);
      dh_raise(L, "IO_ERROR", "blobstate: cannot keep the previous version %s: %s", vp, strerror(errno));
    }
  }
  if (write_file_atomic(p, body, blen) != 0) {
    int e = errno;
    close(wfd);
    dh_raise(L, "IO_ERROR", "blobstate: cannot write %s: %s", p, strerror(e));
  }
  close(wfd);
  char etag[67];
  etag_of(body, blen, etag);
  lua_pushstring(L, etag);
  return 1;
}

static int local_lock(lua_State *L, store *st, const char *name, const char *holder, int duration) {
  char lk[4200];
  local_path(L, st, name, ".lease", lk, sizeof lk);
  parent_dirs(L, lk);
  lease *l = bs_lease_new(L, 1, st, name, holder, duration);
  l->lock_path = bs_strdup(lk);
  if (!l->lock_path) dh_raise(L, "MEMORY", "out of memory");
  for (int tries = 0; tries < 5; tries++) {
    int fd = open(lk, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) dh_raise(L, "IO_ERROR", "blobstate: cannot open %s: %s", lk, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      push_lock_info(L, fd);
      close(fd);
      return bs_raise_locked(L, name, -2, -1, BS_LEASE_WITH_HOLDER);
    }
    if (same_file(fd, lk)) {
      l->fd = fd;
      break;
    }
    close(fd); /* broken (unlinked) meanwhile: retry on the new file */
  }
  if (l->fd < 0) dh_raise(L, "IO_ERROR", "blobstate: lock file %s keeps changing", lk);
  char info[600];
  int n = snprintf(info, sizeof info, "holder=%s\nsince=%s\npid=%ld\n", holder, l->since, (long)getpid());
  if (n < 0 || ftruncate(l->fd, 0) != 0 || pwrite(l->fd, info, (size_t)n, 0) != (ssize_t)n)
    dh_raise(L, "IO_ERROR", "blobstate: cannot write %s", lk);
  snprintf(l->id, sizeof l->id, "local-%ld", (long)getpid());
  l->active = 1;
  return 1;
}

static void local_release(lua_State *L, lease *l, store *st, int store_idx) {
  (void)st;
  (void)store_idx;
  if (l->fd < 0) return;
  int same = same_file(l->fd, l->lock_path);
  close(l->fd);
  l->fd = -1;
  if (!same) dh_raise(L, "LEASE_LOST", "lease:release: the lock on '%s' was broken meanwhile", l->name);
}

static int local_break_lock(lua_State *L, store *st, const char *name) {
  char lk[4200];
  local_path(L, st, name, ".lease", lk, sizeof lk);
  int fd = open(lk, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    lua_pushboolean(L, 0);
    return 1;
  }
  int held = flock(fd, LOCK_SH | LOCK_NB) != 0;
  close(fd);
  /* the holder keeps a lock on the unlinked file; the next lock() makes a new one */
  if (unlink(lk) != 0 && errno != ENOENT) dh_raise(L, "IO_ERROR", "blobstate: cannot remove %s: %s", lk, strerror(errno));
  lua_pushboolean(L, held);
  return 1;
}

static int cmp_entry(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int local_versions(lua_State *L, store *st, const char *name) {
  char dir[4200];
  local_path(L, st, name, ".versions", dir, sizeof dir);
  lua_newtable(L);
  DIR *d = opendir(dir);
  if (!d) return 1;
  size_t n = 0, cap = 16;
  char **names = malloc(cap * sizeof *names);
  if (!names) {
    closedir(d);
    dh_raise(L, "MEMORY", "out of memory");
  }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || strstr(e->d_name, ".tmp")) continue;
    if (n == cap) {
      char **nn = realloc(names, cap * 2 * sizeof *names);
      if (!nn) break;
      names = nn;
      cap *= 2;
    }
    names[n] = bs_strdup(e->d_name);
    if (names[n]) n++;
  }
  closedir(d);
  qsort(names, n, sizeof *names, cmp_entry);
  /* build the list, then free (no Lua error may happen in between without leaking: use pcall-free
     primitives only, which raise only on memory errors) */
  for (size_t i = 0; i < n; i++) {
    char full[4400], rel[1200];
    snprintf(rel, sizeof rel, "%s.versions/%s", name, names[i]);
    snprintf(full, sizeof full, "%s/%s", dir, names[i]);
    struct stat sb;
    lua_Integer size = stat(full, &sb) == 0 ? (lua_Integer)sb.st_size : 0;
    const char *dash = strchr(names[i], '-');
    char etag[80] = "";
    if (dash) snprintf(etag, sizeof etag, "\"%s\"", dash + 1);
    bs_push_version(L, rel, strlen(rel), etag[0] ? etag : NULL, strlen(etag), size, NULL, 0);
    lua_seti(L, -2, (lua_Integer)i + 1);
  }
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  return 1;
}

static void local_describe(lua_State *L, const store *st) {
  lua_pushfstring(L, "blobstate(local %s)", st->path ? st->path : "?");
}

static void local_free_store(store *st) {
  free(st->path);
  st->path = NULL;
}

static void local_free_lease(lease *l) {
  if (l->fd >= 0) {
    close(l->fd); /* drops the flock */
    l->fd = -1;
  }
  free(l->lock_path);
  l->lock_path = NULL;
}

static const bs_ops local_ops = BS_OPS(local);

void bs_local_open(lua_State *L, store *st, const char *path) {
  if (!*path) dh_raise(L, "INVALID_ARGUMENT", "blobstate.open: 'path' must not be empty");
  if (mkdirs(path) != 0) dh_raise(L, "IO_ERROR", "blobstate.open: cannot create directory %s: %s", path, strerror(errno));
  st->ops = &local_ops;
  st->path = bs_strdup(path);
  if (!st->path) dh_raise(L, "MEMORY", "out of memory");
}
