/* blobstate: state documents in Azure Blob Storage (or a local directory): reads with ETag,
 * conditional writes, a lease as a lock renewed by a background thread, previous versions kept.
 * Requests go through the http module's curl machinery (http_core.h). See docs/modules/blobstate.md. */
#include "blobstate_xml.h"
#include "http_core.h"

#include "dh_buf.h"
#include "dh_error.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <lua.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STORE_MT "drhost.blobstate.store"
#define LEASE_MT "drhost.blobstate.lease"
#define OP_MT "drhost.blobstate.op"
#define XMS_VERSION "2021-12-02"
#define PLACEHOLDER_META "x-ms-meta-drhostplaceholder"
#define MAX_HDRS 24

typedef struct lease lease;

typedef struct store {
  int local;
  char *endpoint;  /* without trailing slash */
  char *container;
  char *account;
  unsigned char key[128];
  int keylen;      /* 0: bearer token from the Lua function (uservalue 1) */
  char *path;      /* local backend directory */
  lease *leases;   /* leases held through this store */
  int container_ok;
} store;

struct lease {
  store *st;     /* NULL once the store is gone */
  lease *next;
  char *name;
  char *holder;
  char since[32];
  char id[64];
  int duration;
  int active;
  /* Azure: background renewal */
  pthread_t thread;
  int thread_started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int stop;
  atomic_int abort_now; /* set with stop: aborts a renewal in flight */
  int renewals;
  int lost;
  char last_error[256];
  char *url;          /* lease URL (…/container/name?comp=lease) */
  char *res;          /* canonical resource for Shared Key */
  char *account;
  unsigned char key[128];
  int keylen;
  char *token;        /* bearer token, refreshed by store calls */
  void *certs;
  /* local */
  int fd;
  char *lock_path;
};

/* ------------------------------------------------------------------ errors and small helpers */

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

static void utc_now(char *out, size_t n, const char *fmt) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, n, fmt, &tm);
}

/* Blob names: [A-Za-z0-9._/-], no empty, "." or ".." segment, at most 512 bytes. */
static void check_name(lua_State *L, const char *name, const char *who) {
  size_t n = strlen(name);
  if (n == 0 || n > 512) dh_raise(L, "INVALID_ARGUMENT", "%s: blob name must be 1..512 characters", who);
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
          c == '-' || c == '/'))
      dh_raise(L, "INVALID_ARGUMENT", "%s: blob name '%.80s' may only use letters, digits, '.', '_', '-' and '/'",
                who, name);
  }
  const char *seg = name;
  for (;;) {
    const char *sl = strchr(seg, '/');
    size_t sl_len = sl ? (size_t)(sl - seg) : strlen(seg);
    if (sl_len == 0 || (sl_len == 1 && seg[0] == '.') || (sl_len == 2 && seg[0] == '.' && seg[1] == '.'))
      dh_raise(L, "INVALID_ARGUMENT", "%s: blob name '%.80s' has an empty, '.' or '..' segment", who, name);
    if (!sl) break;
    seg = sl + 1;
  }
}

/* ------------------------------------------------------------------ one request (GC-owned) */

typedef struct op {
  dh_http_req req;
  dh_http_resp resp;
  int inited;
} op;

static int op_gc(lua_State *L) {
  op *o = dh_checkudata(L, 1, OP_MT, "a blobstate operation");
  if (o->inited) {
    dh_http_req_free(&o->req);
    dh_http_resp_free(&o->resp);
    o->inited = 0;
  }
  return 0;
}

static op *op_new(lua_State *L) {
  op *o = lua_newuserdatauv(L, sizeof *o, 0);
  memset(o, 0, sizeof *o);
  if (luaL_newmetatable(L, OP_MT)) {
    lua_pushcfunction(L, op_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  dh_http_req_init(&o->req);
  o->inited = 1;
  o->req.retries = 3;
  o->req.timeout_ms = 30000;
  return o;
}

/* ------------------------------------------------------------------ Shared Key */

typedef struct hdrs {
  const char *name[MAX_HDRS];
  char value[MAX_HDRS][256];
  int n;
} hdrs;

static void hset(hdrs *h, const char *name, const char *value) {
  if (h->n >= MAX_HDRS) return;
  h->name[h->n] = name;
  snprintf(h->value[h->n], sizeof h->value[0], "%s", value);
  h->n++;
}

static const char *hget(const hdrs *h, const char *name) {
  for (int i = 0; i < h->n; i++)
    if (strcasecmp(h->name[i], name) == 0) return h->value[i];
  return "";
}

typedef struct qparam {
  const char *k;
  const char *v;
} qparam;

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_q(const void *a, const void *b) { return strcmp(((const qparam *)a)->k, ((const qparam *)b)->k); }

/* Authorization: SharedKey account:base64(HMAC-SHA256(key, StringToSign)) (Blob service, version
 * 2009-09-19 and later; Content-Length empty when zero). `path` is the URL path as sent. */
static void shared_key(const char *account, const unsigned char *key, int keylen, const char *method,
                       const char *path, qparam *q, int nq, long content_length, hdrs *h, char *out,
                       size_t out_size) {
  char cl[32] = "";
  if (content_length > 0) snprintf(cl, sizeof cl, "%ld", content_length);
  size_t cap = 4096;
  char *s = malloc(cap);
  if (!s) {
    out[0] = '\0';
    return;
  }
  int n = snprintf(s, cap, "%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n", method, hget(h, "Content-Encoding"),
                   hget(h, "Content-Language"), cl, hget(h, "Content-MD5"), hget(h, "Content-Type"), "",
                   hget(h, "If-Modified-Since"), hget(h, "If-Match"), hget(h, "If-None-Match"),
                   hget(h, "If-Unmodified-Since"), hget(h, "Range"));
  /* canonicalized headers: x-ms-* lower-cased, sorted */
  const char *xs[MAX_HDRS] = {0};
  char lines[MAX_HDRS][400];
  int nx = 0;
  for (int i = 0; i < h->n; i++) {
    if (strncasecmp(h->name[i], "x-ms-", 5) != 0) continue;
    size_t k = 0;
    for (const char *p = h->name[i]; *p && k < 80; p++) lines[nx][k++] = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
    snprintf(lines[nx] + k, sizeof lines[0] - k, ":%s\n", h->value[i]);
    xs[nx] = lines[nx];
    nx++;
  }
  qsort(xs, (size_t)nx, sizeof xs[0], cmp_str);
  for (int i = 0; i < nx && n > 0 && (size_t)n < cap; i++) n += snprintf(s + n, cap - (size_t)n, "%s", xs[i]);
  if (n > 0 && (size_t)n < cap) n += snprintf(s + n, cap - (size_t)n, "/%s%s", account, path);
  qsort(q, (size_t)nq, sizeof q[0], cmp_q);
  for (int i = 0; i < nq && n > 0 && (size_t)n < cap; i++) n += snprintf(s + n, cap - (size_t)n, "\n%s:%s", q[i].k, q[i].v);
  if (n < 0 || (size_t)n >= cap) {
    free(s);
    out[0] = '\0';
    return;
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int maclen = 0;
  HMAC(EVP_sha256(), key, keylen, (const unsigned char *)s, (size_t)n, mac, &maclen);
  free(s);
  char b64[64];
  EVP_EncodeBlock((unsigned char *)b64, mac, (int)maclen);
  snprintf(out, out_size, "SharedKey %s:%s", account, b64);
}

/* Fills an op for a Blob service call. name may be NULL (container-level). */
static void prepare(lua_State *L, op *o, store *st, int store_idx, const char *method, const char *name,
                    qparam *q, int nq, hdrs *h, const char *body, size_t body_len, int has_body) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s%s%s", "", st->container, name ? "/" : "", name ? name : "");
  /* endpoint = scheme://host[:port][/basepath]; the signed path includes the base path */
  const char *after_scheme = strstr(st->endpoint, "://");
  const char *base = after_scheme ? strchr(after_scheme + 3, '/') : NULL;
  char full_path[1400];
  snprintf(full_path, sizeof full_path, "%s%s", base ? base : "", path);
  char url[2048];
  int un = snprintf(url, sizeof url, "%s%s", st->endpoint, path);
  for (int i = 0; i < nq && un > 0 && (size_t)un < sizeof url; i++)
    un += snprintf(url + un, sizeof url - (size_t)un, "%c%s=%s", i ? '&' : '?', q[i].k, q[i].v);
  if (un < 0 || (size_t)un >= sizeof url) dh_raise(L, "INVALID_ARGUMENT", "blobstate: URL too long");
  char date[64];
  utc_now(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT");
  hset(h, "x-ms-date", date);
  hset(h, "x-ms-version", XMS_VERSION);
  char auth[256];
  if (st->keylen) {
    qparam qs[8];
    int nqs = nq < 8 ? nq : 8;
    if (nqs > 0) memcpy(qs, q, (size_t)nqs * sizeof *q);
    shared_key(st->account, st->key, st->keylen, method, full_path, qs, nqs, has_body ? (long)body_len : 0, h, auth,
               sizeof auth);
  } else {
    lua_getiuservalue(L, store_idx, 1);
    lua_call(L, 0, 1);
    if (lua_type(L, -1) != LUA_TSTRING || lua_rawlen(L, -1) == 0 || lua_rawlen(L, -1) > 8000)
      dh_raise(L, "INVALID_ARGUMENT", "blobstate: the token function must return a non-empty string");
    const char *tok = lua_tostring(L, -1);
    /* the renewal threads of this store's leases use the latest token */
    for (lease *ls = st->leases; ls; ls = ls->next) {
      char *copy = xstrdup(tok);
      if (!copy) continue;
      pthread_mutex_lock(&ls->mu);
      free(ls->token);
      ls->token = copy;
      pthread_mutex_unlock(&ls->mu);
    }
    size_t tl = strlen(tok);
    char *line = malloc(tl + 8);
    if (!line) dh_raise(L, "MEMORY", "out of memory");
    snprintf(line, tl + 8, "Bearer %s", tok);
    int bad = dh_http_req_header(&o->req, "Authorization", line);
    free(line);
    lua_pop(L, 1);
    if (bad) dh_raise(L, "INVALID_ARGUMENT", "blobstate: the token contains invalid characters");
    auth[0] = '\0';
  }
  o->req.method = xstrdup(method);
  o->req.url = xstrdup(url);
  if (!o->req.method || !o->req.url) dh_raise(L, "MEMORY", "out of memory");
  for (int i = 0; i < h->n; i++)
    if (dh_http_req_header(&o->req, h->name[i], h->value[i]))
      dh_raise(L, "INVALID_ARGUMENT", "blobstate: invalid value for header %s", h->name[i]);
  if (auth[0] && dh_http_req_header(&o->req, "Authorization", auth)) dh_raise(L, "MEMORY", "out of memory");
  if (!o->req.has_content_type) o->req.headers = curl_slist_append(o->req.headers, "Content-Type:");
  o->req.headers = curl_slist_append(o->req.headers, "Expect:");
  if (!o->req.headers) dh_raise(L, "MEMORY", "out of memory");
  o->req.body = body;
  o->req.body_len = body_len;
  o->req.has_body = has_body;
}

/* Runs the op; raises transport errors. */
static void run(lua_State *L, op *o) {
  dh_http_ctx *ctx = dh_http_ctx_get(L);
  int rc = dh_http_run(ctx, &o->req, &o->resp, 1, 1);
  if (rc != 0 || o->resp.err_code) {
    int idx = dh_error_push(L, o->resp.err_code ? o->resp.err_code : "CANCELLED", "blobstate: %s", o->resp.err_msg);
    dh_raise_table(L, idx);
  }
}

static const char *err_code_of(const op *o) {
  const char *c = dh_http_header(&o->resp, "x-ms-error-code");
  return c ? c : "";
}

__attribute__((noreturn)) static int blob_error(lua_State *L, const op *o, const char *what) {
  char url[512];
  snprintf(url, sizeof url, "%s", o->req.url);
  char msg[800];
  snprintf(msg, sizeof msg, "blobstate: %s %s: HTTP %ld %s", what, url, o->resp.status, err_code_of(o));
  int idx = dh_error_push(L, "BLOB_ERROR", "%s", msg); /* lua_pushfstring knows no %ld */
  lua_pushinteger(L, o->resp.status);
  lua_setfield(L, idx, "status");
  lua_pushstring(L, err_code_of(o));
  lua_setfield(L, idx, "blob_code");
  dh_raise_table(L, idx);
}

static void ensure_container(lua_State *L, store *st, int si) {
  if (st->container_ok) return;
  op *o = op_new(L);
  hdrs h = {.n = 0};
  qparam q[] = {{"restype", "container"}};
  prepare(L, o, st, si, "PUT", NULL, q, 1, &h, "", 0, 1);
  run(L, o);
  if (o->resp.status != 201 && o->resp.status != 409) blob_error(L, o, "create container");
  st->container_ok = 1;
  lua_pop(L, 1);
}

static lease *held_lease(store *st, const char *name) {
  for (lease *l = st->leases; l; l = l->next)
    if (l->active && strcmp(l->name, name) == 0) return l;
  return NULL;
}

/* ------------------------------------------------------------------ store: open */

static store *check_store(lua_State *L, int i) { return dh_checkudata(L, i, STORE_MT, "a blobstate store"); }

static int store_gc(lua_State *L) {
  store *st = check_store(L, 1);
  for (lease *l = st->leases; l; l = l->next) l->st = NULL;
  st->leases = NULL;
  free(st->endpoint);
  free(st->container);
  free(st->account);
  free(st->path);
  st->endpoint = st->container = st->account = st->path = NULL;
  OPENSSL_cleanse(st->key, sizeof st->key);
  return 0;
}

static const char *opt_string(lua_State *L, int t, const char *field) {
  int ty = lua_getfield(L, t, field);
  const char *s = NULL;
  if (ty == LUA_TSTRING) s = lua_tostring(L, -1);
  else if (ty != LUA_TNIL) dh_raise(L, "INVALID_ARGUMENT", "blobstate.open: field '%s' must be a string", field);
  lua_pop(L, 1); /* the options table keeps the string alive */
  return s;
}

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

static int l_open(lua_State *L) {
  dh_checktable(L, 1);
  static const char *const known[] = {"endpoint", "container", "account", "key", "token", "path", NULL};
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    lua_pop(L, 1);
    int ok = 0;
    if (lua_type(L, -1) == LUA_TSTRING)
      for (int i = 0; known[i]; i++)
        if (strcmp(lua_tostring(L, -1), known[i]) == 0) ok = 1;
    if (!ok)
      dh_raise_status(L, "INVALID_ARGUMENT", 0,
                "blobstate.open: unknown field '%s' (expected endpoint, container, account, key, token or path)",
                lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?");
  }
  const char *path = opt_string(L, 1, "path");
  const char *endpoint = opt_string(L, 1, "endpoint");
  const char *container = opt_string(L, 1, "container");
  const char *account = opt_string(L, 1, "account");
  const char *key = opt_string(L, 1, "key");
  int has_token = lua_getfield(L, 1, "token") != LUA_TNIL;
  if (has_token && lua_type(L, -1) != LUA_TFUNCTION)
    dh_raise(L, "INVALID_ARGUMENT", "blobstate.open: field 'token' must be a function returning a bearer token");
  int token_idx = lua_gettop(L);

  store *st = lua_newuserdatauv(L, sizeof *st, 1);
  memset(st, 0, sizeof *st);
  if (luaL_newmetatable(L, STORE_MT)) {
    lua_pushcfunction(L, store_gc);
    lua_setfield(L, -2, "__gc");
    lua_getfield(L, LUA_REGISTRYINDEX, "drhost.blobstate.methods");
    lua_setfield(L, -2, "__index");
  }
  lua_setmetatable(L, -2);

  if (path) {
    if (endpoint || container || account || key || has_token)
      dh_raise(L, "INVALID_ARGUMENT", "blobstate.open: 'path' (local backend) excludes endpoint/container/account/key/token");
    if (!*path) dh_raise(L, "INVALID_ARGUMENT", "blobstate.open: 'path' must not be empty");
    if (mkdirs(path) != 0) dh_raise(L, "IO_ERROR", "blobstate.open: cannot create directory %s: %s", path, strerror(errno));
    st->local = 1;
    st->path = xstrdup(path);
    if (!st->path) dh_raise(L, "MEMORY", "out of memory");
    return 1;
  }
  if (!endpoint) dh_raise(L, "INVALID_ARGUMENT", "blobstate.open: give 'endpoint' (Blob service URL) or 'path' (local directory)");
  if (!container || !*container) dh_raise(L, "INVALID_ARGUMENT", "blobstate.open: field 'container' is required with 'endpoint'");
  size_t cl = strlen(container);
  if (cl < 3 || cl > 63 || strspn(container, "abcdefghijklmnopqrstuvwxyz0123456789-") != cl || container[0] == '-')
    dh_raise(L, "INVALID_ARGUMENT", "blobstate.open: container '%s' must be 3-63 lower-case letters, digits or '-'", container);
  char msg[512];
  const char *bad = dh_http_check_url(endpoint, msg, sizeof msg);
  if (bad) dh_raise(L, bad, "blobstate.open: endpoint: %s", msg);
  if (strchr(endpoint, '?') || strchr(endpoint, '#'))
    dh_raise(L, "INVALID_ARGUMENT", "blobstate.open: endpoint must not carry a query (SAS is not supported)");
  if (has_token == (key != NULL))
    dh_raise(L, "INVALID_ARGUMENT", "blobstate.open: give exactly one of 'key' (Shared Key, with 'account') or 'token' (function)");
  st->endpoint = xstrdup(endpoint);
  st->container = xstrdup(container);
  if (!st->endpoint || !st->container) dh_raise(L, "MEMORY", "out of memory");
  size_t el = strlen(st->endpoint);
  while (el > 0 && st->endpoint[el - 1] == '/') st->endpoint[--el] = '\0';
  if (key) {
    if (!account || !*account) dh_raise(L, "INVALID_ARGUMENT", "blobstate.open: field 'account' is required with 'key'");
    size_t kl = strlen(key);
    if (kl == 0 || kl % 4 != 0 || kl > 170)
      dh_raise(L, "INVALID_ARGUMENT", "blobstate.open: field 'key' must be the base64 account key");
    int n = EVP_DecodeBlock(st->key, (const unsigned char *)key, (int)kl);
    if (n < 0) dh_raise(L, "INVALID_ARGUMENT", "blobstate.open: field 'key' is not valid base64");
    if (kl >= 1 && key[kl - 1] == '=') n--;
    if (kl >= 2 && key[kl - 2] == '=') n--;
    st->keylen = n;
    st->account = xstrdup(account);
    if (!st->account) dh_raise(L, "MEMORY", "out of memory");
  } else {
    st->account = xstrdup(account ? account : "");
    lua_pushvalue(L, token_idx);
    lua_setiuservalue(L, -2, 1);
  }
  return 1;
}

/* ------------------------------------------------------------------ local backend helpers */

static void sha256_hex(const char *data, size_t len, char out[65]) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256((const unsigned char *)data, len, d);
  static const char hexd[] = "0123456789abcdef";
  for (size_t i = 0; i < SHA256_DIGEST_LENGTH; i++) {
    out[2 * i] = hexd[d[i] >> 4];
    out[2 * i + 1] = hexd[d[i] & 15];
  }
  out[64] = '\0';
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

__attribute__((noreturn)) static int raise_locked(lua_State *L, const char *name, int holder_idx, int since_idx) {
  holder_idx = lua_absindex(L, holder_idx);
  since_idx = lua_absindex(L, since_idx);
  int idx = dh_error_push(L, "LOCKED", "blobstate: '%s' is locked by %s since %s", name,
                          lua_isstring(L, holder_idx) ? lua_tostring(L, holder_idx) : "(unknown)",
                          lua_isstring(L, since_idx) ? lua_tostring(L, since_idx) : "(unknown)");
  lua_pushvalue(L, holder_idx);
  lua_setfield(L, idx, "holder");
  lua_pushvalue(L, since_idx);
  lua_setfield(L, idx, "since");
  lua_pushstring(L, name);
  lua_setfield(L, idx, "target");
  lua_pushinteger(L, 409);
  lua_setfield(L, idx, "status");
  dh_raise_table(L, idx);
}

/* ------------------------------------------------------------------ read */

static int l_read(lua_State *L) {
  store *st = check_store(L, 1);
  const char *name = dh_checkstring(L, 2);
  check_name(L, name, "store:read");
  if (st->local) {
    char p[4096];
    local_path(L, st, name, "", p, sizeof p);
    if (push_file(L, p) != 0) {
      lua_pushnil(L);
      return 1;
    }
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    char hex[65];
    sha256_hex(s, len, hex);
    lua_pushfstring(L, "\"%s\"", hex);
    return 2;
  }
  ensure_container(L, st, 1);
  op *o = op_new(L);
  hdrs h = {.n = 0};
  prepare(L, o, st, 1, "GET", name, NULL, 0, &h, NULL, 0, 0);
  run(L, o);
  if (o->resp.status == 404) {
    lua_pushnil(L);
    return 1;
  }
  if (o->resp.status != 200) return blob_error(L, o, "read");
  if (dh_http_header(&o->resp, PLACEHOLDER_META)) { /* created only to hold a lease */
    lua_pushnil(L);
    return 1;
  }
  lua_pushlstring(L, o->resp.body ? o->resp.body : "", o->resp.body_len);
  const char *etag = dh_http_header(&o->resp, "etag");
  lua_pushstring(L, etag ? etag : "");
  return 2;
}

/* ------------------------------------------------------------------ write */

static void version_name(char *out, size_t n, const char *name, const char *etag) {
  char ts[32];
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct tm tm;
  gmtime_r(&now.tv_sec, &tm);
  strftime(ts, sizeof ts, "%Y%m%dT%H%M%S", &tm);
  char clean[80];
  size_t k = 0;
  for (const char *p = etag; *p && k < sizeof clean - 1; p++)
    if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) clean[k++] = *p;
  clean[k] = '\0';
  snprintf(out, n, "%s.versions/%s.%03ldZ-%s", name, ts, now.tv_nsec / 1000000L, clean);
}

static int l_write_local(lua_State *L, store *st, const char *name, const char *body, size_t blen, const char *if_match,
                         const char *if_none_match) {
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
  if (!held_lease(st, name)) {
    int lfd = open(lk, O_RDONLY | O_CLOEXEC);
    if (lfd >= 0) {
      if (flock(lfd, LOCK_SH | LOCK_NB) != 0) {
        push_lock_info(L, lfd);
        close(lfd);
        close(wfd);
        return raise_locked(L, name, -2, -1);
      }
      close(lfd);
    }
  }
  int have = push_file(L, p) == 0;
  char cur[70] = "";
  if (have) {
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    char hex[65];
    sha256_hex(s, len, hex);
    snprintf(cur, sizeof cur, "\"%s\"", hex);
  }
  int fail = (if_none_match && have) || (if_match && (!have || (strcmp(if_match, "*") != 0 && strcmp(if_match, cur) != 0)));
  if (fail) {
    close(wfd);
    return dh_raise_status(L, "CONDITION_NOT_MET", 412, "blobstate: write of '%s': %s", name,
                     if_none_match ? "it already exists (if_none_match)" : "its ETag changed (if_match)");
  }
  if (have) {
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    char vn[1024], vp[4096];
    version_name(vn, sizeof vn, name, cur);
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
  char hex[65];
  sha256_hex(body, blen, hex);
  lua_pushfstring(L, "\"%s\"", hex);
  return 1;
}

/* HEAD the blob; pushes holder and since (or nils) and returns the lease state string (static). */
static void push_remote_holder(lua_State *L, store *st, int si, const char *name) {
  op *o = op_new(L);
  hdrs h = {.n = 0};
  prepare(L, o, st, si, "HEAD", name, NULL, 0, &h, NULL, 0, 0);
  run(L, o);
  const char *holder = dh_http_header(&o->resp, "x-ms-meta-holder");
  const char *since = dh_http_header(&o->resp, "x-ms-meta-since");
  lua_pop(L, 1);
  if (holder) lua_pushstring(L, holder); else lua_pushnil(L);
  if (since) lua_pushstring(L, since); else lua_pushnil(L);
}

static int l_write(lua_State *L) {
  store *st = check_store(L, 1);
  const char *name = dh_checkstring(L, 2);
  size_t blen;
  const char *body = dh_checklstring(L, 3, &blen);
  check_name(L, name, "store:write");
  const char *if_match = NULL, *if_none_match = NULL;
  if (!lua_isnoneornil(L, 4)) {
    dh_checktable(L, 4);
    lua_pushnil(L);
    while (lua_next(L, 4)) {
      lua_pop(L, 1);
      const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?";
      if (strcmp(k, "if_match") != 0 && strcmp(k, "if_none_match") != 0)
        dh_raise(L, "INVALID_ARGUMENT", "store:write: unknown option '%s' (expected if_match or if_none_match)", k);
    }
    if (lua_getfield(L, 4, "if_match") != LUA_TNIL) {
      if (lua_type(L, -1) != LUA_TSTRING) dh_raise(L, "INVALID_ARGUMENT", "store:write: if_match must be an ETag string");
      if_match = lua_tostring(L, -1);
    }
    if (lua_getfield(L, 4, "if_none_match") != LUA_TNIL) {
      if (lua_type(L, -1) != LUA_TSTRING || strcmp(lua_tostring(L, -1), "*") != 0)
        dh_raise(L, "INVALID_ARGUMENT", "store:write: if_none_match must be \"*\"");
      if_none_match = "*";
    }
    if (if_match && if_none_match)
      dh_raise(L, "INVALID_ARGUMENT", "store:write: give if_match or if_none_match, not both");
    if (if_match && (strlen(if_match) > 120 || strpbrk(if_match, "\r\n")))
      dh_raise(L, "INVALID_ARGUMENT", "store:write: if_match is not an ETag");
  }
  if (st->local) return l_write_local(L, st, name, body, blen, if_match, if_none_match);

  ensure_container(L, st, 1);
  lease *ls = held_lease(st, name);
  /* 1. the current blob (to keep it as a version, and to know a lease placeholder) */
  op *cur = op_new(L);
  int cur_idx = lua_gettop(L);
  hdrs h0 = {.n = 0};
  prepare(L, cur, st, 1, "GET", name, NULL, 0, &h0, NULL, 0, 0);
  run(L, cur);
  if (cur->resp.status != 200 && cur->resp.status != 404) return blob_error(L, cur, "read before write");
  int exists = cur->resp.status == 200;
  int placeholder = exists && dh_http_header(&cur->resp, PLACEHOLDER_META) != NULL;
  const char *cur_etag = exists ? dh_http_header(&cur->resp, "etag") : NULL;
  int real = exists && !placeholder;
  if ((if_none_match && real) ||
      (if_match && (!real || (strcmp(if_match, "*") != 0 && (!cur_etag || strcmp(if_match, cur_etag) != 0)))))
    return dh_raise_status(L, "CONDITION_NOT_MET", 412, "blobstate: write of '%s': %s", name,
                     if_none_match ? "it already exists (if_none_match)" : "its ETag changed (if_match)");
  /* 2. keep the previous version */
  if (real && cur_etag) {
    char vn[1024];
    version_name(vn, sizeof vn, name, cur_etag);
    op *v = op_new(L);
    hdrs hv = {.n = 0};
    hset(&hv, "x-ms-blob-type", "BlockBlob");
    hset(&hv, "Content-Type", "application/octet-stream");
    hset(&hv, "If-None-Match", "*");
    prepare(L, v, st, 1, "PUT", vn, NULL, 0, &hv, cur->resp.body ? cur->resp.body : "", cur->resp.body_len, 1);
    run(L, v);
    if (v->resp.status != 201) return blob_error(L, v, "keep previous version");
    lua_pop(L, 1);
  }
  /* 3. the write itself, conditional on what we checked */
  op *o = op_new(L);
  hdrs h = {.n = 0};
  hset(&h, "x-ms-blob-type", "BlockBlob");
  hset(&h, "Content-Type", "application/octet-stream");
  if (if_match && cur_etag) hset(&h, "If-Match", strcmp(if_match, "*") == 0 ? cur_etag : if_match);
  else if (if_none_match && placeholder && cur_etag) hset(&h, "If-Match", cur_etag);
  else if (if_none_match) hset(&h, "If-None-Match", "*");
  if (ls) {
    hset(&h, "x-ms-lease-id", ls->id);
    hset(&h, "x-ms-meta-holder", ls->holder);
    hset(&h, "x-ms-meta-since", ls->since);
  }
  prepare(L, o, st, 1, "PUT", name, NULL, 0, &h, body, blen, 1);
  run(L, o);
  (void)cur_idx;
  if (o->resp.status == 201) {
    const char *etag = dh_http_header(&o->resp, "etag");
    lua_pushstring(L, etag ? etag : "");
    return 1;
  }
  const char *code = err_code_of(o);
  if (o->resp.status == 412 && strncmp(code, "Lease", 5) == 0) {
    push_remote_holder(L, st, 1, name);
    return raise_locked(L, name, -2, -1);
  }
  if (o->resp.status == 412 || (o->resp.status == 409 && strcmp(code, "BlobAlreadyExists") == 0))
    return dh_raise_status(L, "CONDITION_NOT_MET", 412, "blobstate: write of '%s': condition not met (%s)", name, code);
  return blob_error(L, o, "write");
}

/* ------------------------------------------------------------------ leases */

static lease *check_lease(lua_State *L, int i) { return dh_checkudata(L, i, LEASE_MT, "a blobstate lease"); }

static void lease_unlink(lease *l) {
  if (!l->st) return;
  for (lease **pp = &l->st->leases; *pp; pp = &(*pp)->next) {
    if (*pp == l) {
      *pp = l->next;
      break;
    }
  }
  l->st = NULL;
}

static void stop_thread(lease *l) {
  if (!l->thread_started) return;
  pthread_mutex_lock(&l->mu);
  l->stop = 1;
  atomic_store(&l->abort_now, 1);
  pthread_cond_signal(&l->cv);
  pthread_mutex_unlock(&l->mu);
  pthread_join(l->thread, NULL);
  l->thread_started = 0;
}

static int lease_gc(lua_State *L) {
  lease *l = check_lease(L, 1);
  stop_thread(l);
  lease_unlink(l);
  if (l->fd >= 0) {
    close(l->fd); /* drops the flock */
    l->fd = -1;
  }
  free(l->name);
  free(l->holder);
  free(l->url);
  free(l->res);
  free(l->account);
  free(l->token);
  free(l->lock_path);
  l->name = l->holder = l->url = l->res = l->account = l->token = l->lock_path = NULL;
  dh_http_certs_unref(l->certs);
  l->certs = NULL;
  OPENSSL_cleanse(l->key, sizeof l->key);
  if (l->active >= 0) {
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    l->active = -1;
  }
  return 0;
}

/* The renewal thread: renews every duration/3 seconds on its own easy handle, never touching Lua. */
static void *renew_main(void *arg) {
  lease *l = arg;
  CURL *easy = curl_easy_init();
  pthread_mutex_lock(&l->mu);
  while (!l->stop) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double every = l->duration / 3.0;
    ts.tv_sec += (time_t)every;
    ts.tv_nsec += (long)((every - (double)(time_t)every) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    while (!l->stop && pthread_cond_timedwait(&l->cv, &l->mu, &ts) != ETIMEDOUT) {
    }
    if (l->stop) break;
    char *token = l->token ? xstrdup(l->token) : NULL;
    pthread_mutex_unlock(&l->mu);

    dh_http_req req;
    dh_http_resp resp;
    dh_http_req_init(&req);
    memset(&resp, 0, sizeof resp);
    req.retries = 2;
    req.backoff_base = 0.5;
    req.max_backoff = 2;
    req.timeout_ms = (long)(every * 1000 / 2);
    req.connect_timeout_ms = req.timeout_ms;
    req.method = xstrdup("PUT");
    req.url = xstrdup(l->url);
    hdrs h = {.n = 0};
    char date[64];
    utc_now(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT");
    hset(&h, "x-ms-date", date);
    hset(&h, "x-ms-version", XMS_VERSION);
    hset(&h, "x-ms-lease-action", "renew");
    hset(&h, "x-ms-lease-id", l->id);
    char auth[256] = "";
    if (l->keylen) {
      qparam q[] = {{"comp", "lease"}};
      shared_key(l->account, l->key, l->keylen, "PUT", l->res, q, 1, 0, &h, auth, sizeof auth);
    }
    int ok = req.method && req.url && easy;
    for (int i = 0; ok && i < h.n; i++) ok = dh_http_req_header(&req, h.name[i], h.value[i]) == 0;
    if (ok && auth[0]) ok = dh_http_req_header(&req, "Authorization", auth) == 0;
    if (ok && token) {
      size_t tl = strlen(token);
      char *line = malloc(tl + 8);
      ok = line != NULL;
      if (ok) {
        snprintf(line, tl + 8, "Bearer %s", token);
        ok = dh_http_req_header(&req, "Authorization", line) == 0;
        free(line);
      }
    }
    if (ok) {
      req.headers = curl_slist_append(req.headers, "Content-Type:");
      req.body = "";
      req.has_body = 1;
      dh_http_perform_blocking(easy, l->certs, &req, &resp, &l->abort_now);
    }
    pthread_mutex_lock(&l->mu);
    if (l->stop) {
      /* stopped while renewing: nothing to record */
    } else if (ok && !resp.err_code && resp.status == 200) {
      l->renewals++;
      l->last_error[0] = '\0';
    } else {
      const char *code = dh_http_header(&resp, "x-ms-error-code");
      snprintf(l->last_error, sizeof l->last_error, "renew failed: %s %ld %s", resp.err_code ? resp.err_code : "HTTP",
               resp.status, code ? code : (ok ? "" : "out of memory"));
      if (resp.status == 409 || resp.status == 412 || resp.status == 404) l->lost = 1;
    }
    free(token);
    dh_http_req_free(&req);
    dh_http_resp_free(&resp);
    if (l->lost) break;
  }
  pthread_mutex_unlock(&l->mu);
  if (easy) curl_easy_cleanup(easy);
  return NULL;
}

static lease *lease_new(lua_State *L, int store_idx, store *st, const char *name, const char *holder, int duration) {
  lease *l = lua_newuserdatauv(L, sizeof *l, 1);
  memset(l, 0, sizeof *l);
  l->fd = -1;
  l->active = 0;
  atomic_init(&l->abort_now, 0);
  pthread_mutex_init(&l->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&l->cv, &ca);
  pthread_condattr_destroy(&ca);
  luaL_setmetatable(L, LEASE_MT);
  lua_pushvalue(L, store_idx); /* the lease keeps its store alive */
  lua_setiuservalue(L, -2, 1);
  l->name = xstrdup(name);
  l->holder = xstrdup(holder);
  l->duration = duration;
  utc_now(l->since, sizeof l->since, "%Y-%m-%dT%H:%M:%SZ");
  if (!l->name || !l->holder) dh_raise(L, "MEMORY", "out of memory");
  l->st = st;
  l->next = st->leases;
  st->leases = l;
  return l;
}

static void uuid4(char out[37]) {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) memset(b, 0x5a, sizeof b);
  b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
           b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static int l_lock_local(lua_State *L, store *st, const char *name, const char *holder, int duration) {
  char lk[4200];
  local_path(L, st, name, ".lease", lk, sizeof lk);
  parent_dirs(L, lk);
  lease *l = lease_new(L, 1, st, name, holder, duration);
  l->lock_path = xstrdup(lk);
  if (!l->lock_path) dh_raise(L, "MEMORY", "out of memory");
  for (int tries = 0; tries < 5; tries++) {
    int fd = open(lk, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) dh_raise(L, "IO_ERROR", "blobstate: cannot open %s: %s", lk, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      push_lock_info(L, fd);
      close(fd);
      return raise_locked(L, name, -2, -1);
    }
    struct stat a, b;
    if (fstat(fd, &a) == 0 && stat(lk, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
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

static int l_lock(lua_State *L) {
  store *st = check_store(L, 1);
  const char *name = dh_checkstring(L, 2);
  check_name(L, name, "store:lock");
  char holder_buf[256];
  const char *holder = NULL;
  int duration = 60;
  if (!lua_isnoneornil(L, 3)) {
    dh_checktable(L, 3);
    lua_pushnil(L);
    while (lua_next(L, 3)) {
      lua_pop(L, 1);
      const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?";
      if (strcmp(k, "holder") != 0 && strcmp(k, "duration") != 0)
        dh_raise(L, "INVALID_ARGUMENT", "store:lock: unknown option '%s' (expected holder or duration)", k);
    }
    int ty = lua_getfield(L, 3, "holder");
    if (ty == LUA_TSTRING) holder = lua_tostring(L, -1);
    else if (ty != LUA_TNIL) dh_raise(L, "INVALID_ARGUMENT", "store:lock: holder must be a string");
    ty = lua_getfield(L, 3, "duration");
    if (ty != LUA_TNIL) {
      int isint;
      lua_Integer d = lua_tointegerx(L, -1, &isint);
      if (!isint || !(d == -1 || (d >= 15 && d <= 60)))
        dh_raise(L, "INVALID_ARGUMENT", "store:lock: duration must be an integer 15..60 (seconds) or -1 (infinite)");
      duration = (int)d;
    }
  }
  if (!holder) {
    char host[128] = "host";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    const char *user = getenv("USER");
    snprintf(holder_buf, sizeof holder_buf, "%s@%s:%ld", user ? user : "user", host, (long)getpid());
    holder = holder_buf;
  }
  size_t hl = strlen(holder);
  if (hl == 0 || hl > 200) dh_raise(L, "INVALID_ARGUMENT", "store:lock: holder must be 1..200 characters");
  for (size_t i = 0; i < hl; i++)
    if ((unsigned char)holder[i] < 32 || (unsigned char)holder[i] > 126)
      dh_raise(L, "INVALID_ARGUMENT", "store:lock: holder must be printable ASCII");
  if (held_lease(st, name)) dh_raise_status(L, "LOCKED", 409, "store:lock: this store already holds the lock on '%s'", name);
  if (st->local) return l_lock_local(L, st, name, holder, duration);

  ensure_container(L, st, 1);
  char proposed[37], dur[16];
  uuid4(proposed);
  snprintf(dur, sizeof dur, "%d", duration);
  qparam q[] = {{"comp", "lease"}};
  op *o = NULL;
  for (int attempt = 0; attempt < 2; attempt++) {
    o = op_new(L);
    hdrs h = {.n = 0};
    hset(&h, "x-ms-lease-action", "acquire");
    hset(&h, "x-ms-lease-duration", dur);
    hset(&h, "x-ms-proposed-lease-id", proposed);
    prepare(L, o, st, 1, "PUT", name, q, 1, &h, "", 0, 1);
    run(L, o);
    if (o->resp.status != 404 || attempt == 1) break;
    /* no blob yet: create an empty placeholder (read() reports it as absent) and lease that */
    op *c = op_new(L);
    hdrs hc = {.n = 0};
    hset(&hc, "x-ms-blob-type", "BlockBlob");
    hset(&hc, "If-None-Match", "*");
    hset(&hc, PLACEHOLDER_META, "1");
    prepare(L, c, st, 1, "PUT", name, NULL, 0, &hc, "", 0, 1);
    run(L, c);
    if (c->resp.status != 201 && c->resp.status != 409 && c->resp.status != 412) blob_error(L, c, "create placeholder");
    lua_pop(L, 2);
  }
  if (o->resp.status == 409) {
    push_remote_holder(L, st, 1, name);
    return raise_locked(L, name, -2, -1);
  }
  if (o->resp.status != 201) return blob_error(L, o, "acquire lease");
  const char *lid = dh_http_header(&o->resp, "x-ms-lease-id");
  lease *l = lease_new(L, 1, st, name, holder, duration);
  snprintf(l->id, sizeof l->id, "%s", lid ? lid : proposed);
  l->active = 1;
  int lease_idx = lua_gettop(L);
  /* holder and since as metadata (kept with the placeholder flag, if any) */
  op *hd = op_new(L);
  hdrs hh = {.n = 0};
  prepare(L, hd, st, 1, "HEAD", name, NULL, 0, &hh, NULL, 0, 0);
  run(L, hd);
  int is_placeholder = dh_http_header(&hd->resp, PLACEHOLDER_META) != NULL;
  op *m = op_new(L);
  hdrs hm = {.n = 0};
  hset(&hm, "x-ms-lease-id", l->id);
  hset(&hm, "x-ms-meta-holder", holder);
  hset(&hm, "x-ms-meta-since", l->since);
  if (is_placeholder) hset(&hm, PLACEHOLDER_META, "1");
  qparam qm[] = {{"comp", "metadata"}};
  prepare(L, m, st, 1, "PUT", name, qm, 1, &hm, "", 0, 1);
  run(L, m);
  if (m->resp.status != 200) return blob_error(L, m, "set lock metadata");
  lua_settop(L, lease_idx);
  if (duration > 0) {
    char url[2048], res[1400];
    const char *after_scheme = strstr(st->endpoint, "://");
    const char *base = after_scheme ? strchr(after_scheme + 3, '/') : NULL;
    snprintf(url, sizeof url, "%s/%s/%s?comp=lease", st->endpoint, st->container, name);
    snprintf(res, sizeof res, "%s/%s/%s", base ? base : "", st->container, name);
    l->url = xstrdup(url);
    l->res = xstrdup(res);
    l->account = xstrdup(st->account);
    memcpy(l->key, st->key, sizeof l->key);
    l->keylen = st->keylen;
    l->certs = dh_http_ctx_certs_ref(dh_http_ctx_get(L));
    if (!l->url || !l->res || !l->account) dh_raise(L, "MEMORY", "out of memory");
    if (!st->keylen) { /* a fresh token for the thread */
      lua_getiuservalue(L, 1, 1);
      lua_call(L, 0, 1);
      if (lua_type(L, -1) == LUA_TSTRING) l->token = xstrdup(lua_tostring(L, -1));
      lua_pop(L, 1);
    }
    if (pthread_create(&l->thread, NULL, renew_main, l) != 0)
      dh_raise(L, "LEASE_ERROR", "store:lock: cannot start the renewal thread");
    l->thread_started = 1;
  }
  return 1;
}

static int lease_release(lua_State *L) {
  lease *l = check_lease(L, 1);
  if (l->active != 1) return 0;
  stop_thread(l);
  l->active = 0;
  store *st = l->st;
  lease_unlink(l);
  if (l->fd >= 0) {
    struct stat a, b;
    int same = fstat(l->fd, &a) == 0 && stat(l->lock_path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
    close(l->fd);
    l->fd = -1;
    if (!same) dh_raise(L, "LEASE_LOST", "lease:release: the lock on '%s' was broken meanwhile", l->name);
    return 0;
  }
  if (!st) dh_raise(L, "LEASE_ERROR", "lease:release: the store of '%s' is gone", l->name);
  lua_getiuservalue(L, 1, 1); /* the store userdata */
  int si = lua_gettop(L);
  op *o = op_new(L);
  hdrs h = {.n = 0};
  hset(&h, "x-ms-lease-action", "release");
  hset(&h, "x-ms-lease-id", l->id);
  qparam q[] = {{"comp", "lease"}};
  prepare(L, o, st, si, "PUT", l->name, q, 1, &h, "", 0, 1);
  run(L, o);
  if (o->resp.status == 200) return 0;
  if (o->resp.status == 409 || o->resp.status == 412)
    dh_raise_status(L, "LEASE_LOST", o->resp.status, "lease:release: the lease on '%s' was lost (%s)", l->name, err_code_of(o));
  return blob_error(L, o, "release lease");
}

static int lease_index(lua_State *L) {
  lease *l = check_lease(L, 1);
  const char *k = dh_checkstring(L, 2);
  if (strcmp(k, "release") == 0) {
    lua_pushcfunction(L, lease_release);
    return 1;
  }
  if (strcmp(k, "name") == 0) lua_pushstring(L, l->name ? l->name : "");
  else if (strcmp(k, "id") == 0) lua_pushstring(L, l->id);
  else if (strcmp(k, "holder") == 0) lua_pushstring(L, l->holder ? l->holder : "");
  else if (strcmp(k, "since") == 0) lua_pushstring(L, l->since);
  else if (strcmp(k, "duration") == 0) lua_pushinteger(L, l->duration);
  else if (strcmp(k, "renewals") == 0 || strcmp(k, "error") == 0 || strcmp(k, "active") == 0) {
    int active = l->active >= 0;
    if (active) pthread_mutex_lock(&l->mu);
    if (k[0] == 'r') lua_pushinteger(L, l->renewals);
    else if (k[0] == 'a') lua_pushboolean(L, l->active == 1 && !l->lost);
    else if (l->last_error[0]) lua_pushstring(L, l->last_error);
    else lua_pushnil(L);
    if (active) pthread_mutex_unlock(&l->mu);
  } else lua_pushnil(L);
  return 1;
}

static int l_break_lock(lua_State *L) {
  store *st = check_store(L, 1);
  const char *name = dh_checkstring(L, 2);
  check_name(L, name, "store:break_lock");
  if (st->local) {
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
  ensure_container(L, st, 1);
  op *o = op_new(L);
  hdrs h = {.n = 0};
  hset(&h, "x-ms-lease-action", "break");
  hset(&h, "x-ms-lease-break-period", "0");
  qparam q[] = {{"comp", "lease"}};
  prepare(L, o, st, 1, "PUT", name, q, 1, &h, "", 0, 1);
  run(L, o);
  if (o->resp.status == 202) {
    lua_pushboolean(L, 1);
    return 1;
  }
  if (o->resp.status == 404 || o->resp.status == 409) {
    lua_pushboolean(L, 0);
    return 1;
  }
  return blob_error(L, o, "break lease");
}

/* ------------------------------------------------------------------ versions */

static int cmp_entry(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void push_version(lua_State *L, const char *name, size_t nl, const char *etag, size_t el, lua_Integer size,
                         const char *modified, size_t ml) {
  lua_createtable(L, 0, 5);
  lua_pushlstring(L, name, nl);
  lua_setfield(L, -2, "name");
  /* <name>.versions/<YYYYmmddTHHMMSS.mmmZ>-<etag> */
  const char *sl = memchr(name, '/', nl) ? name + nl : NULL;
  for (size_t i = nl; i > 0; i--)
    if (name[i - 1] == '/') {
      sl = name + i;
      break;
    }
  if (sl) {
    const char *dash = memchr(sl, '-', (size_t)(name + nl - sl));
    if (dash) {
      lua_pushlstring(L, sl, (size_t)(dash - sl));
      lua_setfield(L, -2, "time");
    }
  }
  if (etag) {
    lua_pushlstring(L, etag, el);
    lua_setfield(L, -2, "etag");
  }
  lua_pushinteger(L, size);
  lua_setfield(L, -2, "size");
  if (modified) {
    lua_pushlstring(L, modified, ml);
    lua_setfield(L, -2, "modified");
  }
}

static int l_versions_local(lua_State *L, store *st, const char *name) {
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
    names[n] = xstrdup(e->d_name);
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
    push_version(L, rel, strlen(rel), etag[0] ? etag : NULL, strlen(etag), size, NULL, 0);
    lua_seti(L, -2, (lua_Integer)i + 1);
  }
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  return 1;
}

static int l_versions(lua_State *L) {
  store *st = check_store(L, 1);
  const char *name = dh_checkstring(L, 2);
  check_name(L, name, "store:versions");
  if (st->local) return l_versions_local(L, st, name);
  ensure_container(L, st, 1);
  char prefix[1100];
  snprintf(prefix, sizeof prefix, "%s.versions/", name);
  lua_newtable(L);
  int out = lua_gettop(L);
  lua_Integer count = 0;
  char marker[1100] = "";
  for (int page = 0; page < 1000; page++) {
    op *o = op_new(L);
    hdrs h = {.n = 0};
    qparam q[4] = {{"restype", "container"}, {"comp", "list"}, {"prefix", prefix}};
    int nq = 3;
    if (marker[0]) q[nq++] = (qparam){"marker", marker};
    prepare(L, o, st, 1, "GET", NULL, q, nq, &h, NULL, 0, 0);
    run(L, o);
    if (o->resp.status != 200) return blob_error(L, o, "list versions");
    const char *xml = o->resp.body ? o->resp.body : "";
    size_t len = o->resp.body_len, pos = 0;
    const char *blob;
    size_t bl;
    while (dh_xml_element(xml, len, &pos, "Blob", &blob, &bl) == 0) {
      const char *v;
      size_t vl, p2 = 0;
      if (dh_xml_element(blob, bl, &p2, "Name", &v, &vl) != 0) continue;
      char *nm = malloc(vl + 1);
      if (!nm) dh_raise(L, "MEMORY", "out of memory");
      size_t nml = dh_xml_unescape(v, vl, nm);
      const char *etag = NULL, *mod = NULL;
      size_t etl = 0, ml = 0;
      lua_Integer size = 0;
      p2 = 0;
      if (dh_xml_element(blob, bl, &p2, "Etag", &etag, &etl) != 0) etag = NULL;
      p2 = 0;
      if (dh_xml_element(blob, bl, &p2, "Last-Modified", &mod, &ml) != 0) mod = NULL;
      p2 = 0;
      if (dh_xml_element(blob, bl, &p2, "Content-Length", &v, &vl) == 0) {
        for (size_t i = 0; i < vl && v[i] >= '0' && v[i] <= '9' && size < ((lua_Integer)1 << 50); i++)
          size = size * 10 + (v[i] - '0');
      }
      lua_pushlstring(L, nm, nml); /* may raise on memory: keep nm owned by Lua first */
      free(nm);
      size_t rl;
      const char *rn = lua_tolstring(L, -1, &rl);
      push_version(L, rn, rl, etag, etl, size, mod, ml);
      lua_remove(L, -2);
      lua_seti(L, out, ++count);
    }
    const char *nm;
    size_t nml;
    pos = 0;
    int more = dh_xml_element(xml, len, &pos, "NextMarker", &nm, &nml) == 0 && nml > 0 && nml < sizeof marker;
    if (more) {
      size_t w = dh_xml_unescape(nm, nml, marker);
      marker[w] = '\0';
      /* markers go into the query string: allow only URL-safe characters */
      if (strspn(marker, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!") != w) more = 0;
    }
    lua_pop(L, 1);
    if (!more) break;
  }
  /* List Blobs answers in name order, and the timestamp in the name orders them oldest first */
  return 1;
}

static int store_tostring(lua_State *L) {
  store *st = check_store(L, 1);
  if (st->local) lua_pushfstring(L, "blobstate(local %s)", st->path ? st->path : "?");
  else lua_pushfstring(L, "blobstate(%s/%s)", st->endpoint ? st->endpoint : "?", st->container ? st->container : "?");
  return 1;
}

int luaopen_blobstate(lua_State *L) {
  static const luaL_Reg methods[] = {{"read", l_read},         {"write", l_write},       {"lock", l_lock},
                                     {"break_lock", l_break_lock}, {"versions", l_versions}, {NULL, NULL}};
  luaL_newlib(L, methods);
  lua_setfield(L, LUA_REGISTRYINDEX, "drhost.blobstate.methods");
  if (luaL_newmetatable(L, STORE_MT)) {
    lua_pushcfunction(L, store_gc);
    lua_setfield(L, -2, "__gc");
    lua_getfield(L, LUA_REGISTRYINDEX, "drhost.blobstate.methods");
    lua_setfield(L, -2, "__index");
  }
  lua_pushcfunction(L, store_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  if (luaL_newmetatable(L, LEASE_MT)) {
    lua_pushcfunction(L, lease_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, lease_index);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  static const luaL_Reg fns[] = {{"open", l_open}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
