/* blobstate: state documents in Azure Blob Storage (or a local directory): reads with ETag,
 * conditional writes, a lease as a lock renewed by a background thread, previous versions kept.
 * This file is the Lua binding and what the backends share; the backends are behind the
 * operations table of blobstate.h. See docs/modules/blobstate.md. */
#include "blobstate.h"

#include "dh_error.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ shared by the backends */

char *bs_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

void bs_utc_now(char *out, size_t n, const char *fmt) {
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, n, fmt, &tm);
}

lease *bs_held_lease(const store *st, const char *name) {
  for (lease *l = st->leases; l; l = l->next)
    if (l->active == 1 && strcmp(l->name, name) == 0) return l;
  return NULL;
}

lease *bs_lease_new(lua_State *L, int store_idx, store *st, const char *name, const char *holder, int duration) {
  store_idx = lua_absindex(L, store_idx);
  lease *l = lua_newuserdatauv(L, sizeof *l, 1);
  memset(l, 0, sizeof *l);
  l->ops = st->ops;
  l->fd = -1;
  l->active = 0;
  atomic_init(&l->abort_now, 0);
  pthread_mutex_init(&l->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&l->cv, &ca);
  pthread_condattr_destroy(&ca);
  luaL_setmetatable(L, BS_LEASE_MT);
  lua_pushvalue(L, store_idx); /* the lease keeps its store alive */
  lua_setiuservalue(L, -2, 1);
  l->name = bs_strdup(name);
  l->holder = bs_strdup(holder);
  l->duration = duration;
  bs_utc_now(l->since, sizeof l->since, "%Y-%m-%dT%H:%M:%SZ");
  if (!l->name || !l->holder) dh_raise(L, "MEMORY", "out of memory");
  l->st = st;
  l->next = st->leases;
  st->leases = l;
  return l;
}

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

void bs_version_name(char *out, size_t n, const char *name, const char *etag) {
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

void bs_push_version(lua_State *L, const char *name, size_t nl, const char *etag, size_t el, lua_Integer size,
                     const char *modified, size_t ml) {
  lua_createtable(L, 0, 5);
  lua_pushlstring(L, name, nl);
  lua_setfield(L, -2, "name");
  /* <name>.versions/<YYYYmmddTHHMMSS.mmmZ>-<etag> */
  const char *sl = NULL;
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

int bs_raise_locked(lua_State *L, const char *name, int holder_idx, int since_idx, int expires_in) {
  holder_idx = lua_absindex(L, holder_idx);
  since_idx = lua_absindex(L, since_idx);
  char expiry[160];
  if (expires_in >= 0)
    snprintf(expiry, sizeof expiry, "; if that run is gone, its lease expires within %d s", expires_in);
  else if (expires_in == BS_LEASE_INFINITE)
    snprintf(expiry, sizeof expiry, "; its lease is infinite: it lasts until it is released or broken");
  else
    expiry[0] = '\0';
  int idx = dh_error_push(L, "LOCKED", "blobstate: '%s' is locked by %s since %s%s", name,
                          lua_isstring(L, holder_idx) ? lua_tostring(L, holder_idx) : "(unknown)",
                          lua_isstring(L, since_idx) ? lua_tostring(L, since_idx) : "(unknown)", expiry);
  if (expires_in >= 0) {
    lua_pushinteger(L, expires_in);
    lua_setfield(L, idx, "expires_in");
  }
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

int bs_raise_condition(lua_State *L, const char *name, const bs_cond *cond, const char *why) {
  if (why)
    dh_raise_status(L, "CONDITION_NOT_MET", 412, "blobstate: write of '%s': condition not met (%s)", name, why);
  dh_raise_status(L, "CONDITION_NOT_MET", 412, "blobstate: write of '%s': %s", name,
                  cond->if_none_match ? "it already exists (if_none_match)" : "its ETag changed (if_match)");
}

/* A value of the environment fit for a holder (printable ASCII without spaces), or NULL. */
static const char *holder_part(const char *var) {
  const char *v = getenv(var);
  if (!v || !*v || strlen(v) > 120) return NULL;
  for (const char *p = v; *p; p++)
    if ((unsigned char)*p <= 32 || (unsigned char)*p > 126) return NULL;
  return v;
}

void bs_default_holder(char *out, size_t n) {
  char host[128] = "";
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  host[sizeof host - 1] = '\0';
  for (char *p = host; *p; p++)
    if ((unsigned char)*p <= 32 || (unsigned char)*p > 126) *p = '_';
  const char *user = holder_part("USER");
  if (!user) user = holder_part("LOGNAME");
  int w = snprintf(out, n, "%s@%s pid %ld", user ? user : "unknown", host[0] ? host : "unknown", (long)getpid());
  const char *server = holder_part("GITHUB_SERVER_URL"), *repo = holder_part("GITHUB_REPOSITORY"),
             *run = holder_part("GITHUB_RUN_ID");
  if (w > 0 && (size_t)w < n && server && repo && run)
    snprintf(out + w, n - (size_t)w, " run %s/%s/actions/runs/%s", server, repo, run);
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

/* Rejects keys of the options table at idx other than the NULL-terminated `known`. */
static void check_options(lua_State *L, int idx, const char *const *known, const char *who, const char *expected) {
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    int ok = 0;
    if (lua_type(L, -1) == LUA_TSTRING)
      for (int i = 0; known[i]; i++)
        if (strcmp(lua_tostring(L, -1), known[i]) == 0) ok = 1;
    if (!ok)
      dh_raise(L, "INVALID_ARGUMENT", "%s: unknown %s '%s' (expected %s)", who, idx == 1 ? "field" : "option",
               lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?", expected);
  }
}

/* ------------------------------------------------------------------ the store */

static store *check_store(lua_State *L, int i) { return dh_checkudata(L, i, BS_STORE_MT, "a blobstate store"); }

/* The checked store at index 1 and the checked blob name at index 2. */
static store *store_and_name(lua_State *L, const char *who, const char **name) {
  store *st = check_store(L, 1);
  *name = dh_checkstring(L, 2);
  check_name(L, *name, who);
  return st;
}

static int store_gc(lua_State *L) {
  store *st = check_store(L, 1);
  for (lease *l = st->leases; l; l = l->next) l->st = NULL;
  st->leases = NULL;
  if (st->ops) st->ops->free_store(st);
  return 0;
}

static int store_tostring(lua_State *L) {
  store *st = check_store(L, 1);
  if (st->ops) st->ops->describe(L, st);
  else lua_pushliteral(L, "blobstate(closed)");
  return 1;
}

static const char *opt_string(lua_State *L, int t, const char *field) {
  int ty = lua_getfield(L, t, field);
  const char *s = NULL;
  if (ty == LUA_TSTRING) s = lua_tostring(L, -1);
  else if (ty != LUA_TNIL) dh_raise(L, "INVALID_ARGUMENT", "blobstate.open: field '%s' must be a string", field);
  lua_pop(L, 1); /* the options table keeps the string alive */
  return s;
}

static int l_open(lua_State *L) {
  dh_checktable(L, 1);
  static const char *const known[] = {"endpoint", "container", "account", "key", "token", "path", NULL};
  check_options(L, 1, known, "blobstate.open", "endpoint, container, account, key, token or path");
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
  luaL_setmetatable(L, BS_STORE_MT);
  if (path) {
    if (endpoint || container || account || key || has_token)
      dh_raise(L, "INVALID_ARGUMENT",
               "blobstate.open: 'path' (local backend) excludes endpoint/container/account/key/token");
    bs_local_open(L, st, path);
    return 1;
  }
  if (!endpoint)
    dh_raise(L, "INVALID_ARGUMENT", "blobstate.open: give 'endpoint' (Blob service URL) or 'path' (local directory)");
  bs_azure_open(L, st, endpoint, container, account, key, has_token ? token_idx : 0);
  return 1;
}

/* store:read(name), store:break_lock(name), store:versions(name): which one is upvalue 1. */
enum { BY_NAME_READ, BY_NAME_BREAK_LOCK, BY_NAME_VERSIONS };
static int l_by_name(lua_State *L) {
  static const char *const who[] = {"store:read", "store:break_lock", "store:versions"};
  int which = (int)lua_tointeger(L, lua_upvalueindex(1));
  const char *name;
  store *st = store_and_name(L, who[which], &name);
  if (which == BY_NAME_READ) return st->ops->read(L, st, name);
  if (which == BY_NAME_BREAK_LOCK) return st->ops->break_lock(L, st, name);
  return st->ops->versions(L, st, name);
}

static int l_write(lua_State *L) {
  const char *name;
  store *st = store_and_name(L, "store:write", &name);
  size_t blen;
  const char *body = dh_checklstring(L, 3, &blen);
  bs_cond cond = {NULL, NULL};
  if (!lua_isnoneornil(L, 4)) {
    dh_checktable(L, 4);
    static const char *const known[] = {"if_match", "if_none_match", NULL};
    check_options(L, 4, known, "store:write", "if_match or if_none_match");
    if (lua_getfield(L, 4, "if_match") != LUA_TNIL) {
      if (lua_type(L, -1) != LUA_TSTRING) dh_raise(L, "INVALID_ARGUMENT", "store:write: if_match must be an ETag string");
      cond.if_match = lua_tostring(L, -1);
    }
    if (lua_getfield(L, 4, "if_none_match") != LUA_TNIL) {
      if (lua_type(L, -1) != LUA_TSTRING || strcmp(lua_tostring(L, -1), "*") != 0)
        dh_raise(L, "INVALID_ARGUMENT", "store:write: if_none_match must be \"*\"");
      cond.if_none_match = "*";
    }
    if (cond.if_match && cond.if_none_match)
      dh_raise(L, "INVALID_ARGUMENT", "store:write: give if_match or if_none_match, not both");
    if (cond.if_match && (strlen(cond.if_match) > 120 || strpbrk(cond.if_match, "\r\n")))
      dh_raise(L, "INVALID_ARGUMENT", "store:write: if_match is not an ETag");
  }
  return st->ops->write(L, st, name, body, blen, &cond);
}

static int l_lock(lua_State *L) {
  const char *name;
  store *st = store_and_name(L, "store:lock", &name);
  char holder_buf[256];
  const char *holder = NULL;
  int duration = 60;
  if (!lua_isnoneornil(L, 3)) {
    dh_checktable(L, 3);
    static const char *const known[] = {"holder", "duration", NULL};
    check_options(L, 3, known, "store:lock", "holder or duration");
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
    bs_default_holder(holder_buf, 201); /* a holder is at most 200 characters */
    holder = holder_buf;
  }
  size_t hl = strlen(holder);
  if (hl == 0 || hl > 200) dh_raise(L, "INVALID_ARGUMENT", "store:lock: holder must be 1..200 characters");
  for (size_t i = 0; i < hl; i++)
    if ((unsigned char)holder[i] < 32 || (unsigned char)holder[i] > 126)
      dh_raise(L, "INVALID_ARGUMENT", "store:lock: holder must be printable ASCII");
  if (bs_held_lease(st, name))
    dh_raise_status(L, "LOCKED", 409, "store:lock: this store already holds the lock on '%s'", name);
  return st->ops->lock(L, st, name, holder, duration);
}


/* ------------------------------------------------------------------ leases */

static lease *check_lease(lua_State *L, int i) { return dh_checkudata(L, i, BS_LEASE_MT, "a blobstate lease"); }

static int lease_gc(lua_State *L) {
  lease *l = check_lease(L, 1);
  if (l->active < 0) return 0;
  l->ops->free_lease(l);
  lease_unlink(l);
  free(l->name);
  free(l->holder);
  l->name = l->holder = NULL;
  pthread_mutex_destroy(&l->mu);
  pthread_cond_destroy(&l->cv);
  l->active = -1;
  return 0;
}

static int lease_release(lua_State *L) {
  lease *l = check_lease(L, 1);
  if (l->active != 1) return 0;
  l->active = 0;
  store *st = l->st;
  lease_unlink(l);
  lua_getiuservalue(L, 1, 1); /* the store userdata */
  l->ops->release(L, l, st, lua_gettop(L));
  return 0;
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

/* blobstate.default_holder() -> the holder a lock names when its caller gives none. */
static int l_default_holder(lua_State *L) {
  char holder[201];
  bs_default_holder(holder, sizeof holder);
  lua_pushstring(L, holder);
  return 1;
}

int luaopen_blobstate(lua_State *L) {
  static const luaL_Reg methods[] = {{"write", l_write}, {"lock", l_lock}, {NULL, NULL}};
  static const char *const by_name[] = {"read", "break_lock", "versions"};
  if (luaL_newmetatable(L, BS_STORE_MT)) {
    lua_pushcfunction(L, store_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, store_tostring);
    lua_setfield(L, -2, "__tostring");
    luaL_newlib(L, methods);
    for (int i = BY_NAME_READ; i <= BY_NAME_VERSIONS; i++) {
      lua_pushinteger(L, i);
      lua_pushcclosure(L, l_by_name, 1);
      lua_setfield(L, -2, by_name[i]);
    }
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, BS_LEASE_MT)) {
    lua_pushcfunction(L, lease_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, lease_index);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  static const luaL_Reg fns[] = {{"open", l_open}, {"default_holder", l_default_holder}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
