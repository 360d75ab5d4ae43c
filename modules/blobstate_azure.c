/* The Azure Blob backend of blobstate (blobstate.h): documents are block blobs read with their
 * ETag and written conditionally, previous versions are copies under <name>.versions/, the lock is
 * a blob lease (on an empty placeholder blob when the document does not exist yet) renewed by
 * blobstate_lease.c. Requests go through the http module's curl machinery (http_core.h), signed
 * with Shared Key (blobstate_sharedkey.c) or carrying a bearer token. */
#include "blobstate.h"
#include "blobstate_xml.h"
#include "http_core.h"
#include "http_parse.h"

#include "dh_box.h"
#include "dh_error.h"

#include <lauxlib.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OP_MT "drhost.blobstate.op"
#define PLACEHOLDER_META "x-ms-meta-drhostplaceholder"
#define LEASE_SECONDS_META "x-ms-meta-leaseseconds"

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
  op *o = dh_newbox(L, sizeof *o, 0, OP_MT, op_gc);
  dh_http_req_init(&o->req);
  o->inited = 1;
  o->req.retries = 3;
  o->req.timeout_ms = 30000;
  return o;
}

/* The path of the endpoint's URL after the host ("" when none): signed as part of the resource. */
static const char *endpoint_base(const store *st) {
  const char *after_scheme = strstr(st->endpoint, "://");
  const char *base = after_scheme ? strchr(after_scheme + 3, '/') : NULL;
  return base ? base : "";
}

/* Gives the leases of this store the latest bearer token (their renewal threads use it). */
static void share_token(store *st, const char *tok) {
  for (lease *ls = st->leases; ls; ls = ls->next) {
    char *copy = bs_strdup(tok);
    if (!copy) continue;
    pthread_mutex_lock(&ls->mu);
    free(ls->token);
    ls->token = copy;
    pthread_mutex_unlock(&ls->mu);
  }
}

/* Fills an op for a Blob service call. name may be NULL (container-level). */
static void prepare(lua_State *L, op *o, store *st, int store_idx, const char *method, const char *name,
                    bs_qparam *q, int nq, bs_hdrs *h, const char *body, size_t body_len, int has_body) {
  char path[1200];
  snprintf(path, sizeof path, "/%s%s%s", st->container, name ? "/" : "", name ? name : "");
  char full_path[1400];
  snprintf(full_path, sizeof full_path, "%s%s", endpoint_base(st), path);
  char url[2048];
  int un = snprintf(url, sizeof url, "%s%s", st->endpoint, path);
  for (int i = 0; i < nq && un > 0 && (size_t)un < sizeof url; i++)
    un += snprintf(url + un, sizeof url - (size_t)un, "%c%s=%s", i ? '&' : '?', q[i].k, q[i].v);
  if (un < 0 || (size_t)un >= sizeof url) dh_raise(L, "INVALID_ARGUMENT", "blobstate: URL too long");
  char date[64];
  bs_utc_now(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT");
  bs_hset(h, "x-ms-date", date);
  bs_hset(h, "x-ms-version", BS_XMS_VERSION);
  char auth[256];
  if (st->keylen) {
    bs_qparam qs[8];
    int nqs = nq < 8 ? nq : 8;
    if (nqs > 0) memcpy(qs, q, (size_t)nqs * sizeof *q);
    bs_shared_key(st->account, st->key, st->keylen, method, full_path, qs, nqs, has_body ? (long)body_len : 0, h,
                  auth, sizeof auth);
  } else {
    lua_getiuservalue(L, store_idx, 1);
    lua_call(L, 0, 1);
    if (lua_type(L, -1) != LUA_TSTRING || lua_rawlen(L, -1) == 0 || lua_rawlen(L, -1) > 8000)
      dh_raise(L, "INVALID_ARGUMENT", "blobstate: the token function must return a non-empty string");
    const char *tok = lua_tostring(L, -1);
    share_token(st, tok);
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
  o->req.method = bs_strdup(method);
  o->req.url = bs_strdup(url);
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
    int idx = dh_error_push(L, o->resp.err_code ? o->resp.err_code : "CANCELLED", "blobstate: %s", dh_http_resp_message(&o->resp));
    dh_raise_table(L, idx);
  }
}

/* A new op for `method` on `name` (NULL: the container) of the store at index 1, run; left on the
 * stack. */
static op *call(lua_State *L, store *st, const char *method, const char *name, bs_qparam *q, int nq, bs_hdrs *h,
                const char *body, size_t body_len, int has_body) {
  op *o = op_new(L);
  prepare(L, o, st, 1, method, name, q, nq, h, body, body_len, has_body);
  run(L, o);
  return o;
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

static void ensure_container(lua_State *L, store *st) {
  if (st->container_ok) return;
  bs_hdrs h = {.n = 0};
  bs_qparam q[] = {{"restype", "container"}};
  op *o = call(L, st, "PUT", NULL, q, 1, &h, "", 0, 1);
  if (o->resp.status != 201 && o->resp.status != 409) blob_error(L, o, "create container");
  st->container_ok = 1;
  lua_pop(L, 1);
}

/* The holder's metadata on a leased blob (holder, since, the lease's length in seconds). */
static void holder_metadata(bs_hdrs *h, const lease *l) {
  char secs[16];
  snprintf(secs, sizeof secs, "%d", l->duration);
  bs_hset(h, "x-ms-meta-holder", l->holder);
  bs_hset(h, "x-ms-meta-since", l->since);
  bs_hset(h, LEASE_SECONDS_META, secs);
}

/* How long a lease seen now can outlast a holder that died: its length (a renewal resets it to
 * the full length, so nothing after now is longer), or BS_LEASE_INFINITE. */
static int lease_expiry(const op *head) {
  int n = dh_parse_lease_seconds(dh_http_header(&head->resp, "x-ms-lease-duration"),
                                 dh_http_header(&head->resp, LEASE_SECONDS_META));
  return n < 0 ? BS_LEASE_INFINITE : n;
}

/* HEAD the blob and raise LOCKED with the holder and since of its metadata and the lease's expiry. */
__attribute__((noreturn)) static int raise_remote_locked(lua_State *L, store *st, const char *name) {
  bs_hdrs h = {.n = 0};
  op *o = call(L, st, "HEAD", name, NULL, 0, &h, NULL, 0, 0);
  const char *holder = dh_http_header(&o->resp, "x-ms-meta-holder");
  const char *since = dh_http_header(&o->resp, "x-ms-meta-since");
  if (holder) lua_pushstring(L, holder); else lua_pushnil(L);
  if (since) lua_pushstring(L, since); else lua_pushnil(L);
  bs_raise_locked(L, name, -2, -1, lease_expiry(o));
}

/* ------------------------------------------------------------------ read, write */

static int azure_read(lua_State *L, store *st, const char *name) {
  ensure_container(L, st);
  bs_hdrs h = {.n = 0};
  op *o = call(L, st, "GET", name, NULL, 0, &h, NULL, 0, 0);
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

static int azure_write(lua_State *L, store *st, const char *name, const char *body, size_t blen, const bs_cond *cond) {
  ensure_container(L, st);
  lease *ls = bs_held_lease(st, name);
  const char *if_match = cond->if_match, *if_none_match = cond->if_none_match;
  /* 1. the current blob (to keep it as a version, and to know a lease placeholder) */
  bs_hdrs h0 = {.n = 0};
  op *cur = call(L, st, "GET", name, NULL, 0, &h0, NULL, 0, 0);
  if (cur->resp.status != 200 && cur->resp.status != 404) return blob_error(L, cur, "read before write");
  int exists = cur->resp.status == 200;
  int placeholder = exists && dh_http_header(&cur->resp, PLACEHOLDER_META) != NULL;
  const char *cur_etag = exists ? dh_http_header(&cur->resp, "etag") : NULL;
  int real = exists && !placeholder;
  if ((if_none_match && real) ||
      (if_match && (!real || (strcmp(if_match, "*") != 0 && (!cur_etag || strcmp(if_match, cur_etag) != 0)))))
    return bs_raise_condition(L, name, cond, NULL);
  /* 2. keep the previous version */
  if (real && cur_etag) {
    char vn[1024];
    bs_version_name(vn, sizeof vn, name, cur_etag);
    bs_hdrs hv = {.n = 0};
    bs_hset(&hv, "x-ms-blob-type", "BlockBlob");
    bs_hset(&hv, "Content-Type", "application/octet-stream");
    bs_hset(&hv, "If-None-Match", "*");
    op *v = call(L, st, "PUT", vn, NULL, 0, &hv, cur->resp.body ? cur->resp.body : "", cur->resp.body_len, 1);
    if (v->resp.status != 201) return blob_error(L, v, "keep previous version");
    lua_pop(L, 1);
  }
  /* 3. the write itself, conditional on what we checked */
  bs_hdrs h = {.n = 0};
  bs_hset(&h, "x-ms-blob-type", "BlockBlob");
  bs_hset(&h, "Content-Type", "application/octet-stream");
  if (if_match && cur_etag) bs_hset(&h, "If-Match", strcmp(if_match, "*") == 0 ? cur_etag : if_match);
  else if (if_none_match && placeholder && cur_etag) bs_hset(&h, "If-Match", cur_etag);
  else if (if_none_match) bs_hset(&h, "If-None-Match", "*");
  if (ls) {
    bs_hset(&h, "x-ms-lease-id", ls->id);
    holder_metadata(&h, ls);
  }
  op *o = call(L, st, "PUT", name, NULL, 0, &h, body, blen, 1);
  if (o->resp.status == 201) {
    const char *etag = dh_http_header(&o->resp, "etag");
    lua_pushstring(L, etag ? etag : "");
    return 1;
  }
  const char *code = err_code_of(o);
  if (o->resp.status == 412 && strncmp(code, "Lease", 5) == 0) return raise_remote_locked(L, st, name);
  if (o->resp.status == 412 || (o->resp.status == 409 && strcmp(code, "BlobAlreadyExists") == 0))
    return bs_raise_condition(L, name, cond, code);
  return blob_error(L, o, "write");
}

/* ------------------------------------------------------------------ leases */

static void uuid4(char out[37]) {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) memset(b, 0x5a, sizeof b);
  b[6] = (unsigned char)((b[6] & 0x0F) | 0x40);
  b[8] = (unsigned char)((b[8] & 0x3F) | 0x80);
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
           b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* Acquires the lease (creating an empty placeholder blob when there is none yet); leaves the
 * answered op on the stack. */
static op *acquire(lua_State *L, store *st, const char *name, const char *proposed, int duration) {
  char dur[16];
  snprintf(dur, sizeof dur, "%d", duration);
  bs_qparam q[] = {{"comp", "lease"}};
  for (int attempt = 0;; attempt++) {
    bs_hdrs h = {.n = 0};
    bs_hset(&h, "x-ms-lease-action", "acquire");
    bs_hset(&h, "x-ms-lease-duration", dur);
    bs_hset(&h, "x-ms-proposed-lease-id", proposed);
    op *o = call(L, st, "PUT", name, q, 1, &h, "", 0, 1);
    if (o->resp.status != 404 || attempt == 1) return o;
    /* no blob yet: create an empty placeholder (read() reports it as absent) and lease that */
    bs_hdrs hc = {.n = 0};
    bs_hset(&hc, "x-ms-blob-type", "BlockBlob");
    bs_hset(&hc, "If-None-Match", "*");
    bs_hset(&hc, PLACEHOLDER_META, "1");
    op *c = call(L, st, "PUT", name, NULL, 0, &hc, "", 0, 1);
    if (c->resp.status != 201 && c->resp.status != 409 && c->resp.status != 412) blob_error(L, c, "create placeholder");
    lua_pop(L, 2);
  }
}

/* The holder's metadata on the blob (kept with the placeholder flag, if any). */
static void set_holder_metadata(lua_State *L, store *st, const char *name, const lease *l) {
  bs_hdrs hh = {.n = 0};
  op *hd = call(L, st, "HEAD", name, NULL, 0, &hh, NULL, 0, 0);
  int is_placeholder = dh_http_header(&hd->resp, PLACEHOLDER_META) != NULL;
  bs_hdrs hm = {.n = 0};
  bs_hset(&hm, "x-ms-lease-id", l->id);
  holder_metadata(&hm, l);
  if (is_placeholder) bs_hset(&hm, PLACEHOLDER_META, "1");
  bs_qparam qm[] = {{"comp", "metadata"}};
  op *m = call(L, st, "PUT", name, qm, 1, &hm, "", 0, 1);
  if (m->resp.status != 200) blob_error(L, m, "set lock metadata");
  lua_pop(L, 2);
}

/* What the renewal thread needs, copied from the store (the thread never touches Lua). */
static void start_renewal(lua_State *L, store *st, lease *l) {
  char url[2048], res[1400];
  snprintf(url, sizeof url, "%s/%s/%s?comp=lease", st->endpoint, st->container, l->name);
  snprintf(res, sizeof res, "%s/%s/%s", endpoint_base(st), st->container, l->name);
  l->url = bs_strdup(url);
  l->res = bs_strdup(res);
  l->account = bs_strdup(st->account);
  memcpy(l->key, st->key, sizeof l->key);
  l->keylen = st->keylen;
  l->certs = dh_http_ctx_certs_ref(dh_http_ctx_get(L));
  if (!l->url || !l->res || !l->account) dh_raise(L, "MEMORY", "out of memory");
  if (!st->keylen) { /* a fresh token for the thread */
    lua_getiuservalue(L, 1, 1);
    lua_call(L, 0, 1);
    if (lua_type(L, -1) == LUA_TSTRING) l->token = bs_strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  if (bs_renewal_start(l) != 0) dh_raise(L, "LEASE_ERROR", "store:lock: cannot start the renewal thread");
}

static int azure_lock(lua_State *L, store *st, const char *name, const char *holder, int duration) {
  ensure_container(L, st);
  char proposed[37];
  uuid4(proposed);
  op *o = acquire(L, st, name, proposed, duration);
  if (o->resp.status == 409) return raise_remote_locked(L, st, name);
  if (o->resp.status != 201) return blob_error(L, o, "acquire lease");
  const char *lid = dh_http_header(&o->resp, "x-ms-lease-id");
  lease *l = bs_lease_new(L, 1, st, name, holder, duration);
  snprintf(l->id, sizeof l->id, "%s", lid ? lid : proposed);
  l->active = 1;
  set_holder_metadata(L, st, name, l);
  if (duration > 0) start_renewal(L, st, l);
  return 1;
}

static void azure_release(lua_State *L, lease *l, store *st, int store_idx) {
  bs_renewal_stop(l);
  if (!st) dh_raise(L, "LEASE_ERROR", "lease:release: the store of '%s' is gone", l->name);
  op *o = op_new(L);
  bs_hdrs h = {.n = 0};
  bs_hset(&h, "x-ms-lease-action", "release");
  bs_hset(&h, "x-ms-lease-id", l->id);
  bs_qparam q[] = {{"comp", "lease"}};
  prepare(L, o, st, store_idx, "PUT", l->name, q, 1, &h, "", 0, 1);
  run(L, o);
  if (o->resp.status == 200) return;
  if (o->resp.status == 409 || o->resp.status == 412)
    dh_raise_status(L, "LEASE_LOST", o->resp.status, "lease:release: the lease on '%s' was lost (%s)", l->name,
                    err_code_of(o));
  blob_error(L, o, "release lease");
}

static int azure_break_lock(lua_State *L, store *st, const char *name) {
  ensure_container(L, st);
  bs_hdrs h = {.n = 0};
  bs_hset(&h, "x-ms-lease-action", "break");
  bs_hset(&h, "x-ms-lease-break-period", "0");
  bs_qparam q[] = {{"comp", "lease"}};
  op *o = call(L, st, "PUT", name, q, 1, &h, "", 0, 1);
  if (o->resp.status == 202 || o->resp.status == 404 || o->resp.status == 409) {
    lua_pushboolean(L, o->resp.status == 202);
    return 1;
  }
  return blob_error(L, o, "break lease");
}

/* ------------------------------------------------------------------ versions */

/* Pushes the version entry of one <Blob> element of a List Blobs answer. */
static void push_listed_version(lua_State *L, const char *blob, size_t bl) {
  const char *v;
  size_t vl, p2 = 0;
  if (dh_xml_element(blob, bl, &p2, "Name", &v, &vl) != 0) {
    lua_pushnil(L);
    return;
  }
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
  bs_push_version(L, rn, rl, etag, etl, size, mod, ml);
  lua_remove(L, -2);
}

/* The NextMarker of a List Blobs answer into marker; 0 when there is no further page (or the
 * marker is not URL-safe, as it goes into the query string). */
static int next_marker(const char *xml, size_t len, char *marker, size_t cap) {
  const char *nm;
  size_t nml, pos = 0;
  if (dh_xml_element(xml, len, &pos, "NextMarker", &nm, &nml) != 0 || nml == 0 || nml >= cap) return 0;
  size_t w = dh_xml_unescape(nm, nml, marker);
  marker[w] = '\0';
  return strspn(marker, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!") == w;
}

static int azure_versions(lua_State *L, store *st, const char *name) {
  ensure_container(L, st);
  char prefix[1100];
  snprintf(prefix, sizeof prefix, "%s.versions/", name);
  lua_newtable(L);
  int out = lua_gettop(L);
  lua_Integer count = 0;
  char marker[1100] = "";
  for (int page = 0; page < 1000; page++) {
    bs_hdrs h = {.n = 0};
    bs_qparam q[4] = {{"restype", "container"}, {"comp", "list"}, {"prefix", prefix}};
    int nq = 3;
    if (marker[0]) q[nq++] = (bs_qparam){"marker", marker};
    op *o = call(L, st, "GET", NULL, q, nq, &h, NULL, 0, 0);
    if (o->resp.status != 200) return blob_error(L, o, "list versions");
    const char *xml = o->resp.body ? o->resp.body : "";
    size_t len = o->resp.body_len, pos = 0;
    const char *blob;
    size_t bl;
    while (dh_xml_element(xml, len, &pos, "Blob", &blob, &bl) == 0) {
      push_listed_version(L, blob, bl);
      if (lua_isnil(L, -1)) lua_pop(L, 1);
      else lua_seti(L, out, ++count);
    }
    int more = next_marker(xml, len, marker, sizeof marker);
    lua_pop(L, 1);
    if (!more) break;
  }
  /* List Blobs answers in name order, and the timestamp in the name orders them oldest first */
  return 1;
}

/* ------------------------------------------------------------------ the store and its leases */

static void azure_describe(lua_State *L, const store *st) {
  lua_pushfstring(L, "blobstate(%s/%s)", st->endpoint ? st->endpoint : "?", st->container ? st->container : "?");
}

static void azure_free_store(store *st) {
  free(st->endpoint);
  free(st->container);
  free(st->account);
  st->endpoint = st->container = st->account = NULL;
  OPENSSL_cleanse(st->key, sizeof st->key);
}

static void azure_free_lease(lease *l) {
  bs_renewal_stop(l);
  free(l->url);
  free(l->res);
  free(l->account);
  free(l->token);
  l->url = l->res = l->account = l->token = NULL;
  dh_http_certs_unref(l->certs);
  l->certs = NULL;
  OPENSSL_cleanse(l->key, sizeof l->key);
}

static const bs_ops azure_ops = BS_OPS(azure);

void bs_azure_open(lua_State *L, store *st, const char *endpoint, const char *container, const char *account,
                   const char *key, int token_idx) {
  if (!container || !*container)
    dh_raise(L, "INVALID_ARGUMENT", "blobstate.open: field 'container' is required with 'endpoint'");
  size_t cl = strlen(container);
  if (cl < 3 || cl > 63 || strspn(container, "abcdefghijklmnopqrstuvwxyz0123456789-") != cl || container[0] == '-')
    dh_raise(L, "INVALID_ARGUMENT", "blobstate.open: container '%s' must be 3-63 lower-case letters, digits or '-'",
             container);
  char msg[512];
  const char *bad = dh_http_check_url(endpoint, msg, sizeof msg);
  if (bad) dh_raise(L, bad, "blobstate.open: endpoint: %s", msg);
  if (strchr(endpoint, '?') || strchr(endpoint, '#'))
    dh_raise(L, "INVALID_ARGUMENT", "blobstate.open: endpoint must not carry a query (SAS is not supported)");
  if ((token_idx != 0) == (key != NULL))
    dh_raise(L, "INVALID_ARGUMENT",
             "blobstate.open: give exactly one of 'key' (Shared Key, with 'account') or 'token' (function)");
  st->ops = &azure_ops;
  st->endpoint = bs_strdup(endpoint);
  st->container = bs_strdup(container);
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
    st->account = bs_strdup(account);
    if (!st->account) dh_raise(L, "MEMORY", "out of memory");
  } else {
    st->account = bs_strdup(account ? account : "");
    lua_pushvalue(L, token_idx);
    lua_setiuservalue(L, -2, 1);
  }
}
