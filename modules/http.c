/* http: libcurl multi for every request (http.request is http.all of one). One persistent multi
 * handle per Lua state keeps the connection cache (keep-alive) and HTTP/2 multiplexing across calls.
 * TLS is always verified against the system CA file (one store per multi handle, shared by its
 * connections); DRHOST_CA_BUNDLE adds certificates to that store.
 * Retries (429/502/503/504, connection errors) are scheduled in the loop so they never block other
 * transfers. See docs/modules/http.md. */
#include "http_core.h"
#include "http_parse.h"

#include "dh_box.h"
#include "dh_error.h"
#include "dh_log.h"
#include "dh_signal.h"

#include <lauxlib.h>
#include <lua.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define CTX_KEY "drhost.http.ctx"    /* registry slot of the context */
#define CTX_MT "drhost.http.ctx.mt" /* its metatable */
#define BATCH_MT "drhost.http.batch"
#define TASKS_KEY "drhost.http.tasks" /* weak-keyed set of the coroutines that are runtime tasks */
#define ACTIVE_KEY "drhost.http.active" /* set pointer -> its handle, while the set runs */
#define HANDLE_MT "drhost.http.handle"
#define MAX_BODY ((size_t)512 * 1024 * 1024)
#define POLL_MS 50

typedef struct xset xset;

struct dh_http_ctx {
  CURLM *multi;
  xset *active; /* the sets started by http.start and not finished yet */
  STACK_OF(X509) *certs; /* extra CAs, NULL when DRHOST_CA_BUNDLE is unset */
  uint64_t rng;
};

/* ------------------------------------------------------------------ small helpers */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_OK;
static void global_init(void) { global_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static double now_mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_seed(void) {
  uint64_t s = 0;
  if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20);
  }
  return s ? s : 0x9E3779B97F4A7C15ULL;
}

/* xorshift64*: uniform in [0, 1). Jitter only, not security. */
static double rng_unit(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

static int log_debug_enabled(void) { return dh_log_enabled(DH_LOG_DEBUG); }

/* ------------------------------------------------------------------ request / response */

void dh_http_req_init(dh_http_req *r) {
  memset(r, 0, sizeof *r);
  r->timeout_ms = 60000;
  r->connect_timeout_ms = 10000;
  r->retries = 4;
  static const int def[] = {429, 502, 503, 504};
  memcpy(r->retry_statuses, def, sizeof def);
  r->n_retry_statuses = 4;
  r->max_backoff = 30.0;
  r->backoff_base = 0.5;
  r->max_retry_after = 120.0;
}

void dh_http_req_free(dh_http_req *r) {
  free(r->method);
  free(r->url);
  for (int i = 0; i < r->n_retry_codes; i++) free(r->retry_codes[i]);
  r->n_retry_codes = 0;
  if (!r->headers_shared) curl_slist_free_all(r->headers);
  r->method = r->url = NULL;
  r->headers = NULL;
  r->headers_shared = 0;
}

static void resp_clear(dh_http_resp *r) {
  for (size_t i = 0; i < r->nhdrs; i++) free(r->hdrs[i].name); /* the value lives in the same block */
  r->nhdrs = 0;
  r->body_len = 0;
  r->status = 0;
}

void dh_http_resp_free(dh_http_resp *r) {
  resp_clear(r);
  free(r->hdrs);
  free(r->body);
  free(r->err_msg);
  r->hdrs = NULL;
  r->body = NULL;
  r->err_msg = NULL;
  r->hcap = r->body_cap = 0;
}

const char *dh_http_resp_message(const dh_http_resp *r) {
  return r->err_msg ? r->err_msg : "out of memory";
}

/* Sets the error of a response (code and formatted message); the message is allocated to its
 * length (a batch of thousands of responses keeps no fixed-size buffer per response). */
__attribute__((format(printf, 3, 4))) static void resp_fail(dh_http_resp *r, const char *code, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  free(r->err_msg);
  r->err_msg = xstrdup(msg);
  r->err_code = code;
}

static void resp_ok(dh_http_resp *r) {
  free(r->err_msg);
  r->err_msg = NULL;
  r->err_code = NULL;
}

/* A finished response gives back what its buffers hold beyond its content (the body grows by
 * doubling from 4 KB; a batch keeps every response until it returns). */
static void resp_compact(dh_http_resp *r) {
  if (r->body && r->body_cap > r->body_len + 1) {
    char *nb = realloc(r->body, r->body_len + 1);
    if (nb) {
      r->body = nb;
      r->body_cap = r->body_len + 1;
    }
  }
  if (r->hdrs && r->hcap > r->nhdrs) {
    if (r->nhdrs == 0) {
      free(r->hdrs);
      r->hdrs = NULL;
      r->hcap = 0;
    } else {
      dh_http_hdr *nh = realloc(r->hdrs, r->nhdrs * sizeof *nh);
      if (nh) {
        r->hdrs = nh;
        r->hcap = r->nhdrs;
      }
    }
  }
}

static int has_ctl(const char *s) {
  for (; *s; s++)
    if (*s == '\r' || *s == '\n') return 1;
  return 0;
}


int dh_http_req_header(dh_http_req *r, const char *name, const char *value) {
  if (has_ctl(value) || !*name) return -1;
  for (const char *p = name; *p; p++) /* RFC 9110 token characters */
    if (!(((unsigned char)*p > 32 && (unsigned char)*p < 127) && !strchr("\"(),/:;<=>?@[\\]{}", *p))) return -1;
  size_t n = strlen(name), v = strlen(value);
  char *line = malloc(n + v + 3);
  if (!line) return -1;
  memcpy(line, name, n);
  /* "Name;" is curl's spelling of a header with an empty value ("Name:" would remove it). */
  if (v == 0) {
    line[n] = ';';
    line[n + 1] = '\0';
  } else {
    line[n] = ':';
    line[n + 1] = ' ';
    memcpy(line + n + 2, value, v + 1);
  }
  struct curl_slist *nl = curl_slist_append(r->headers, line);
  free(line);
  if (!nl) return -1;
  r->headers = nl;
  if (strcasecmp(name, "content-type") == 0) r->has_content_type = 1;
  return 0;
}

const char *dh_http_header(const dh_http_resp *r, const char *lname) {
  for (size_t i = 0; i < r->nhdrs; i++)
    if (strcmp(r->hdrs[i].name, lname) == 0) return r->hdrs[i].value;
  return NULL;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud) {
  dh_http_resp *r = ud;
  size_t len = size * nitems;
  const char *name, *value;
  size_t nl, vl;
  int kind = dh_parse_header_line(buf, len, &name, &nl, &value, &vl);
  if (kind == 1) { /* a new status line (100-continue, proxy): forget earlier headers */
    resp_clear(r);
    return len;
  }
  if (kind != 0) return len;
  for (size_t i = 0; i < r->nhdrs; i++) {
    size_t hl = strlen(r->hdrs[i].name);
    if (hl == nl && strncasecmp(r->hdrs[i].name, name, nl) == 0) {
      size_t ol = strlen(r->hdrs[i].value);
      char *nb = realloc(r->hdrs[i].name, hl + 1 + ol + 2 + vl + 1);
      if (!nb) return 0; /* aborts the transfer (CURLE_WRITE_ERROR) */
      char *nv = nb + hl + 1;
      memcpy(nv + ol, ", ", 2);
      memcpy(nv + ol + 2, value, vl);
      nv[ol + 2 + vl] = '\0';
      r->hdrs[i].name = nb;
      r->hdrs[i].value = nv;
      return len;
    }
  }
  if (r->nhdrs == r->hcap) {
    size_t nc = r->hcap ? r->hcap * 2 : 16;
    dh_http_hdr *nh = realloc(r->hdrs, nc * sizeof *nh);
    if (!nh) return 0;
    r->hdrs = nh;
    r->hcap = nc;
  }
  char *n = malloc(nl + 1 + vl + 1);
  if (!n) return 0;
  char *v = n + nl + 1;
  for (size_t i = 0; i < nl; i++) n[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
  n[nl] = '\0';
  memcpy(v, value, vl);
  v[vl] = '\0';
  r->hdrs[r->nhdrs].name = n;
  r->hdrs[r->nhdrs].value = v;
  r->nhdrs++;
  return len;
}

static size_t on_body(char *buf, size_t size, size_t nitems, void *ud) {
  dh_http_resp *r = ud;
  size_t len = size * nitems;
  if (len > MAX_BODY - r->body_len) return 0;
  if (r->body_len + len + 1 > r->body_cap) {
    size_t nc = r->body_cap ? r->body_cap : 4096;
    while (nc < r->body_len + len + 1) nc *= 2;
    char *nb = realloc(r->body, nc);
    if (!nb) return 0;
    r->body = nb;
    r->body_cap = nc;
  }
  memcpy(r->body + r->body_len, buf, len);
  r->body_len += len;
  r->body[r->body_len] = '\0';
  return len;
}

/* ------------------------------------------------------------------ TLS trust */

static CURLcode on_ssl_ctx(CURL *easy, void *sslctx, void *ud) {
  (void)easy;
  STACK_OF(X509) *certs = ud;
  X509_STORE *st = SSL_CTX_get_cert_store((SSL_CTX *)sslctx);
  if (!st) return CURLE_SSL_CERTPROBLEM;
  for (int i = 0; i < sk_X509_num(certs); i++) {
    /* a duplicate is not an error (OpenSSL 3 ignores it) */
    (void)X509_STORE_add_cert(st, sk_X509_value(certs, i));
  }
  return CURLE_OK;
}

static STACK_OF(X509) *load_certs(const char *path, char *msg, size_t msg_size) {
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(msg, msg_size, "DRHOST_CA_BUNDLE=%s: cannot open the file", path);
    return NULL;
  }
  STACK_OF(X509) *sk = sk_X509_new_null();
  X509 *x;
  while (sk && (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
    if (!sk_X509_push(sk, x)) {
      X509_free(x);
      break;
    }
  }
  ERR_clear_error();
  fclose(f);
  if (!sk || sk_X509_num(sk) == 0) {
    sk_X509_pop_free(sk, X509_free);
    snprintf(msg, msg_size, "DRHOST_CA_BUNDLE=%s: no PEM certificate in the file", path);
    return NULL;
  }
  return sk;
}

void *dh_http_ctx_certs_ref(dh_http_ctx *ctx) {
  if (!ctx->certs) return NULL;
  STACK_OF(X509) *sk = sk_X509_dup(ctx->certs);
  if (!sk) return NULL;
  for (int i = 0; i < sk_X509_num(sk); i++) X509_up_ref(sk_X509_value(sk, i));
  return sk;
}

void dh_http_certs_unref(void *certs) {
  if (certs) sk_X509_pop_free((STACK_OF(X509) *)certs, X509_free);
}

/* ------------------------------------------------------------------ context */

static void detach_all(dh_http_ctx *c);

static int ctx_gc(lua_State *L) {
  dh_http_ctx *c = dh_checkudata(L, 1, CTX_MT, "an http context");
  detach_all(c);
  if (c->multi) curl_multi_cleanup(c->multi);
  c->multi = NULL;
  dh_http_certs_unref(c->certs);
  c->certs = NULL;
  return 0;
}

void dh_http_push_error(lua_State *L, const char *code, const char *msg) {
  dh_error_push(L, code, "%s", msg);
}

dh_http_ctx *dh_http_ctx_get(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, CTX_KEY) == LUA_TUSERDATA) {
    dh_http_ctx *c = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return c;
  }
  lua_pop(L, 1);
  pthread_once(&global_once, global_init);
  if (global_rc != CURLE_OK) dh_raise(L, "HTTP_ERROR", "curl_global_init failed: %s", curl_easy_strerror(global_rc));
  dh_http_ctx *c = dh_newbox(L, sizeof *c, 0, CTX_MT, ctx_gc);
  c->rng = rng_seed();
  const char *ca = getenv("DRHOST_CA_BUNDLE");
  if (ca && *ca) {
    char msg[512];
    c->certs = load_certs(ca, msg, sizeof msg);
    if (!c->certs) {
      lua_pop(L, 1); /* collected later; nothing to free yet */
      dh_raise(L, "CONFIG_ERROR", "%s", msg);
    }
  }
  c->multi = curl_multi_init();
  if (!c->multi) dh_raise(L, "HTTP_ERROR", "curl_multi_init failed");
  curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 64L);
  lua_setfield(L, LUA_REGISTRYINDEX, CTX_KEY);
  return c;
}

const char *dh_http_check_url(const char *url, char *msg, size_t msg_size) {
  char host[256];
  int kind = dh_url_scheme_host(url, strlen(url), host, sizeof host);
  if (kind < 0) {
    snprintf(msg, msg_size, "not an http(s) URL with a host: %.200s", url);
    return "INVALID_URL";
  }
  if (kind == 1 && !dh_host_is_loopback(host)) {
    snprintf(msg, msg_size,
             "plain http:// is only allowed to loopback (127.0.0.0/8, ::1, localhost, *.localhost); "
             "use https:// for host '%.200s'",
             host);
    return "INSECURE_URL";
  }
  return NULL;
}

/* ------------------------------------------------------------------ logging */

/* Through the shared logger (dh_log_write redacts values again); URLs, headers and form bodies are
 * redacted here first. */
static void log_request(const dh_http_req *req) {
  char url[1024];
  dh_redact_params(req->url, strlen(req->url), 1, url, sizeof url);
  char hdrs[1024] = "";
  size_t hn = 0;
  for (const struct curl_slist *h = req->headers; h; h = h->next) {
    const char *colon = strpbrk(h->data, ":;");
    size_t nl = colon ? (size_t)(colon - h->data) : strlen(h->data);
    const char *val = colon ? colon + 1 : "";
    if (*val == ' ') val++;
    if (!*val) continue; /* "Expect:"-style removals */
    int w = snprintf(hdrs + hn, sizeof hdrs - hn, "%s%.*s=%s", hn ? "," : "", (int)nl, h->data,
                     dh_header_is_secret(h->data, nl) ? "REDACTED" : val);
    if (w < 0 || (size_t)w >= sizeof hdrs - hn) break;
    hn += (size_t)w;
  }
  char body[512] = "", blen[32];
  if (req->has_body && req->body_len) {
    int form = 0;
    for (const struct curl_slist *h = req->headers; h; h = h->next)
      if (strncasecmp(h->data, "content-type:", 13) == 0 && strstr(h->data, "x-www-form-urlencoded")) form = 1;
    if (form) dh_redact_params(req->body, req->body_len, 0, body, sizeof body);
  }
  snprintf(blen, sizeof blen, "%zu", req->has_body ? req->body_len : (size_t)0);
  const char *keys[] = {"method", "url", "headers", "body_bytes", "form"};
  const char *vals[] = {req->method, url, hdrs, blen, body};
  dh_log_write(DH_LOG_DEBUG, "http request", body[0] ? 5 : 4, keys, vals);
}

static void log_attempt(const dh_http_req *req, const dh_http_resp *resp, double elapsed, const char *err,
                        double retry_in) {
  char url[1024], st[24], el[32], at[16], by[32], rt[32];
  dh_redact_params(req->url, strlen(req->url), 1, url, sizeof url);
  snprintf(st, sizeof st, "%ld", resp->status);
  snprintf(el, sizeof el, "%.3f", elapsed);
  snprintf(at, sizeof at, "%d", resp->attempts);
  snprintf(by, sizeof by, "%zu", resp->body_len);
  snprintf(rt, sizeof rt, "%.3f", retry_in);
  const char *keys[] = {"method", "url", "status", "elapsed", "attempt", "bytes", "retry_in", "error"};
  const char *vals[] = {req->method, url, st, el, at, by, rt, err ? err : ""};
  size_t n = 6;
  if (retry_in >= 0) n = 7;
  if (err) {
    keys[n] = "error";
    vals[n] = err;
    n++;
  }
  dh_log_write(DH_LOG_DEBUG, "http response", n, keys, vals);
}

/* ------------------------------------------------------------------ one transfer */

/* $NO_PROXY / $no_proxy plus loopback (CURLOPT_NOPROXY replaces the environment's list). */
static char noproxy_buf[2048];
static pthread_once_t noproxy_once = PTHREAD_ONCE_INIT;
static void noproxy_init(void) {
  const char *env = getenv("NO_PROXY");
  if (!env || !*env) env = getenv("no_proxy");
  snprintf(noproxy_buf, sizeof noproxy_buf, "%.1900s%slocalhost,127.0.0.0/8,::1", env && *env ? env : "",
           env && *env ? "," : "");
}
static const char *noproxy_list(void) {
  pthread_once(&noproxy_once, noproxy_init);
  return noproxy_buf;
}

static void easy_setup(CURL *e, void *certs, dh_http_req *req, dh_http_resp *resp, char *errbuf) {
  curl_easy_setopt(e, CURLOPT_URL, req->url);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  /* Trust comes from the CA file alone (curl's built-in default, the same certificates as the
   * hashed directory on Debian): with a CA path set, libcurl does not cache the store, and every
   * connection parsed the whole system bundle again (about 0.9 MB each). With the file alone,
   * one store per multi handle is built and shared (CURLOPT_CA_CACHE_TIMEOUT, default 24 h); the
   * DRHOST_CA_BUNDLE certificates on_ssl_ctx adds to it are then already there (no-ops). */
  curl_easy_setopt(e, CURLOPT_CAPATH, (char *)NULL);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_NOPROXY, noproxy_list()); /* loopback never goes through a proxy */
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  curl_easy_setopt(e, CURLOPT_USERAGENT, "drhost/1");
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, resp);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, resp);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
  if (certs) {
    curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
    curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, certs);
  }
  const char *m = req->method;
  if (strcmp(m, "HEAD") == 0) {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (req->has_body || strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0) {
    /* POSTFIELDS sends Content-Length even for an empty body (Azure requires it). */
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->has_body ? req->body_len : 0));
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->has_body ? req->body : "");
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
  } else if (strcmp(m, "GET") == 0) {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, req->headers);
}

/* Maps a curl result to our error codes. */
static const char *classify(CURLcode rc) {
  switch (rc) {
  case CURLE_OPERATION_TIMEDOUT:
    return "TIMEOUT";
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_ENGINE_NOTFOUND:
  case CURLE_SSL_ENGINE_SETFAILED:
  case CURLE_SSL_ENGINE_INITFAILED:
  case CURLE_SSL_SHUTDOWN_FAILED:
  case CURLE_USE_SSL_FAILED:
    return "TLS_ERROR";
  case CURLE_WRITE_ERROR:
  case CURLE_OUT_OF_MEMORY:
  case CURLE_URL_MALFORMAT:
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_BAD_FUNCTION_ARGUMENT:
    return "HTTP_ERROR";
  default:
    return "CONNECT_ERROR";
  }
}

static int status_retryable(const dh_http_req *req, long status) {
  for (int i = 0; i < req->n_retry_statuses; i++)
    if (req->retry_statuses[i] == status) return 1;
  return 0;
}

static int code_retryable(const dh_http_req *req, const dh_http_resp *resp) {
  for (int i = 0; i < req->n_retry_codes; i++)
    if (dh_body_names_code(resp->body, resp->body_len, req->retry_codes[i], strlen(req->retry_codes[i]))) return 1;
  return 0;
}

static double backoff(const dh_http_req *req, int attempts, uint64_t *rng) {
  double cap = req->backoff_base;
  for (int i = 1; i < attempts && cap < req->max_backoff; i++) cap *= 2;
  if (cap > req->max_backoff) cap = req->max_backoff;
  return rng_unit(rng) * cap; /* full jitter */
}

/* After an attempt: fills resp; returns the delay before the next attempt, or -1 when done.
 * first_start: when the first attempt began (for retry_for). */
static double settle(CURL *e, CURLcode rc, dh_http_req *req, dh_http_resp *resp, const char *errbuf,
                     double attempt_start, double first_start, uint64_t *rng) {
  double elapsed = now_mono() - attempt_start;
  double delay = -1;
  resp_ok(resp);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
    if ((status_retryable(req, resp->status) || code_retryable(req, resp)) && resp->attempts <= req->retries) {
      const char *ra = dh_http_header(resp, "retry-after");
      double d;
      if (ra && dh_parse_retry_after(ra, strlen(ra), time(NULL), &d) == 0) {
        delay = d <= req->max_retry_after ? d : -1; /* too far away: give the response back */
      } else {
        delay = backoff(req, resp->attempts, rng);
      }
    }
  } else {
    const char *code = classify(rc);
    char url[512];
    dh_redact_params(req->url, strlen(req->url), 1, url, sizeof url);
    resp_fail(resp, code, "%.16s %.400s: %.400s (attempt %d)", req->method, url,
              errbuf[0] ? errbuf : curl_easy_strerror(rc), resp->attempts);
    int retry = strcmp(code, "CONNECT_ERROR") == 0;
    if (strcmp(code, "TIMEOUT") == 0) { /* retried only when the request was never sent */
      long sent = 0;
      curl_easy_getinfo(e, CURLINFO_REQUEST_SIZE, &sent);
      retry = sent == 0;
    }
    if (retry && resp->attempts <= req->retries) delay = backoff(req, resp->attempts, rng);
  }
  if (delay >= 0 && req->retry_for > 0 && now_mono() + delay - first_start > req->retry_for) delay = -1;
  if (log_debug_enabled()) log_attempt(req, resp, elapsed, resp->err_code, delay);
  return delay;
}

/* ------------------------------------------------------------------ the multi loop
 *
 * A set is n transfers run with at most `concurrency` in flight. http.all (dh_http_run) runs one
 * set to its end; http.start links a set into ctx->active and http.poll drives every active set
 * at once. Every easy handle's CURLOPT_PRIVATE is its xfer, which knows its set, so whichever
 * loop reads a completion settles it in the right set. */

enum { X_PENDING, X_RUNNING, X_WAITING, X_DONE };

typedef struct xfer {
  CURL *easy;
  int state;
  double due, first_start, attempt_start;
  char errbuf[CURL_ERROR_SIZE];
  xset *set;
  size_t index;
} xfer;

struct xset {
  size_t n, next, done, waiting;
  int inflight, concurrency;
  dh_http_req *reqs;
  dh_http_resp *resps;
  xfer *xs;
  dh_http_ctx *ctx;
  int active; /* linked into ctx->active */
  xset *prev, *nxt;
};

static void xfer_start(dh_http_ctx *ctx, xfer *x, dh_http_req *req, dh_http_resp *resp) {
  double t = now_mono();
  if (resp->attempts == 0) {
    x->first_start = t;
    if (log_debug_enabled()) log_request(req);
  }
  resp_clear(resp);
  resp->attempts++;
  x->attempt_start = t;
  x->errbuf[0] = '\0';
  if (!x->easy) {
    x->easy = curl_easy_init();
    if (x->easy) {
      easy_setup(x->easy, ctx->certs, req, resp, x->errbuf);
      curl_easy_setopt(x->easy, CURLOPT_PRIVATE, (char *)x);
    }
  }
  if (!x->easy || curl_multi_add_handle(ctx->multi, x->easy) != CURLM_OK) {
    resp_fail(resp, "HTTP_ERROR", "cannot start a transfer (out of memory)");
    x->state = X_DONE;
    return;
  }
  x->state = X_RUNNING;
}

static void xfer_finish(xfer *x, dh_http_resp *resp) {
  resp->elapsed = now_mono() - x->first_start;
  resp_compact(resp);
  if (x->easy) curl_easy_cleanup(x->easy);
  x->easy = NULL;
  x->state = X_DONE;
}

static void set_init(xset *s, dh_http_ctx *ctx, dh_http_req *reqs, dh_http_resp *resps, xfer *xs, size_t n,
                     int concurrency) {
  memset(s, 0, sizeof *s);
  s->ctx = ctx;
  s->reqs = reqs;
  s->resps = resps;
  s->xs = xs;
  s->n = n;
  s->concurrency = concurrency < 1 ? 1 : concurrency;
  for (size_t i = 0; i < n; i++) {
    xs[i].set = s;
    xs[i].index = i;
  }
}

static void set_launch(xset *s, size_t i) {
  xfer_start(s->ctx, &s->xs[i], &s->reqs[i], &s->resps[i]);
  if (s->xs[i].state == X_RUNNING) {
    s->inflight++;
  } else {
    xfer_finish(&s->xs[i], &s->resps[i]);
    s->done++;
  }
}

/* Starts the due retries first, then new requests, up to the bound. */
static void set_pump(xset *s) {
  double t = now_mono();
  for (size_t i = 0; s->waiting > 0 && i < s->n && s->inflight < s->concurrency; i++) {
    if (s->xs[i].state == X_WAITING && s->xs[i].due <= t) {
      s->waiting--;
      set_launch(s, i);
    }
  }
  while (s->next < s->n && s->inflight < s->concurrency) set_launch(s, s->next++);
}

/* Seconds until the set's next retry is due, at most `wait`. */
static double set_next_due(const xset *s, double wait) {
  double t = now_mono();
  for (size_t i = 0; s->waiting > 0 && i < s->n; i++)
    if (s->xs[i].state == X_WAITING && s->xs[i].due - t < wait) wait = s->xs[i].due - t;
  return wait;
}

/* Every unfinished transfer of the set ends with CANCELLED. */
static void set_cancel(xset *s) {
  for (size_t i = 0; i < s->n; i++) {
    xfer *x = &s->xs[i];
    if (x->state == X_DONE) continue;
    if (x->state == X_RUNNING && s->ctx->multi) curl_multi_remove_handle(s->ctx->multi, x->easy);
    resp_clear(&s->resps[i]);
    resp_fail(&s->resps[i], "CANCELLED", "%s: cancelled by SIGINT", s->reqs[i].method);
    if (x->state == X_PENDING) x->first_start = now_mono();
    xfer_finish(x, &s->resps[i]);
  }
  s->done = s->n;
  s->next = s->n;
  s->inflight = 0;
  s->waiting = 0;
}

/* Runs curl and settles every finished transfer, whichever set it belongs to. */
static void drain(dh_http_ctx *ctx) {
  int running = 0;
  curl_multi_perform(ctx->multi, &running);
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(ctx->multi, &left)) != NULL) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL *e = msg->easy_handle;
    CURLcode rc = msg->data.result;
    char *priv = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
    xfer *x = (xfer *)(void *)priv;
    xset *s = x->set;
    size_t i = x->index;
    curl_multi_remove_handle(ctx->multi, e);
    s->inflight--;
    double delay = settle(e, rc, &s->reqs[i], &s->resps[i], x->errbuf, x->attempt_start, x->first_start, &ctx->rng);
    if (delay >= 0) {
      x->state = X_WAITING;
      x->due = now_mono() + delay;
      s->waiting++;
    } else {
      xfer_finish(x, &s->resps[i]);
      s->done++;
    }
  }
}

static void set_unlink(xset *s) {
  if (!s->active) return;
  if (s->prev) s->prev->nxt = s->nxt;
  else s->ctx->active = s->nxt;
  if (s->nxt) s->nxt->prev = s->prev;
  s->prev = s->nxt = NULL;
  s->active = 0;
}

static void detach_all(dh_http_ctx *c) {
  while (c->active) {
    xset *s = c->active;
    set_cancel(s);
    set_unlink(s);
  }
}

int dh_http_run(dh_http_ctx *ctx, dh_http_req *reqs, dh_http_resp *resps, size_t n, int concurrency) {
  if (n == 0) return 0;
  xfer *xs = calloc(n, sizeof *xs);
  if (!xs) {
    for (size_t i = 0; i < n; i++) resp_fail(&resps[i], "HTTP_ERROR", "out of memory");
    return 0;
  }
  xset s;
  set_init(&s, ctx, reqs, resps, xs, n, concurrency);
  int cancelled = 0;
  while (s.done < n) {
    if (dh_cancelled()) {
      cancelled = 1;
      break;
    }
    set_pump(&s);
    drain(ctx);
    if (s.done >= n) break;
    if (s.next < n && s.inflight < s.concurrency) continue; /* a slot is free: start the next one now */
    /* sleep until socket activity, the next due retry or the cancel check */
    double wait = set_next_due(&s, POLL_MS / 1000.0);
    int ms = wait > 0 ? (int)(wait * 1000) : 0;
    if (s.inflight > 0 || ms > 0) curl_multi_poll(ctx->multi, NULL, 0, ms, NULL);
  }
  if (cancelled) set_cancel(&s);
  free(xs);
  return cancelled ? -1 : 0;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un) {
  (void)dt;
  (void)dn;
  (void)ut;
  (void)un;
  return atomic_load((atomic_int *)ud) ? 1 : 0; /* non-zero aborts the transfer */
}

void dh_http_perform_blocking(CURL *easy, void *certs, dh_http_req *req, dh_http_resp *resp, atomic_int *abort_flag) {
  uint64_t rng = rng_seed();
  char errbuf[CURL_ERROR_SIZE];
  double first = now_mono();
  curl_easy_reset(easy);
  easy_setup(easy, certs, req, resp, errbuf);
  if (abort_flag) {
    curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(easy, CURLOPT_XFERINFODATA, abort_flag);
    curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  }
  for (;;) {
    resp_clear(resp);
    resp->attempts++;
    errbuf[0] = '\0';
    double start = now_mono();
    CURLcode rc = curl_easy_perform(easy);
    if (abort_flag && atomic_load(abort_flag)) {
      resp_fail(resp, "CANCELLED", "%s: stopped", req->method);
      break;
    }
    double delay = settle(easy, rc, req, resp, errbuf, start, first, &rng);
    if (delay < 0) break;
    /* sleep in short steps so a stop request is seen promptly */
    double until = now_mono() + delay;
    while (!(abort_flag && atomic_load(abort_flag))) {
      double left = until - now_mono();
      if (left <= 0) break;
      if (left > 0.05) left = 0.05;
      struct timespec ts = {0, (long)(left * 1e9)};
      nanosleep(&ts, NULL);
    }
  }
  resp->elapsed = now_mono() - first;
  resp_compact(resp);
}

/* ------------------------------------------------------------------ Lua side */

typedef struct batch {
  size_t n;
  dh_http_req *reqs;
  dh_http_resp *resps;
} batch;

static void batch_free(batch *b) {
  if (b->reqs)
    for (size_t i = 0; i < b->n; i++) dh_http_req_free(&b->reqs[i]);
  if (b->resps)
    for (size_t i = 0; i < b->n; i++) dh_http_resp_free(&b->resps[i]);
  free(b->reqs);
  free(b->resps);
  b->reqs = NULL;
  b->resps = NULL;
  b->n = 0;
}

static int batch_gc(lua_State *L) {
  batch_free(dh_checkudata(L, 1, BATCH_MT, "an http batch"));
  return 0;
}

static batch *batch_new(lua_State *L, size_t n) {
  batch *b = dh_newbox(L, sizeof *b, 0, BATCH_MT, batch_gc);
  size_t cnt = n ? n : 1;
  b->reqs = calloc(cnt, sizeof *b->reqs);
  b->resps = calloc(cnt, sizeof *b->resps);
  if (!b->reqs || !b->resps) dh_raise(L, "HTTP_ERROR", "out of memory for %zu requests", n);
  b->n = n;
  for (size_t i = 0; i < n; i++) dh_http_req_init(&b->reqs[i]);
  return b;
}

static const char *const req_fields[] = {"method", "url", "headers", "body", "timeout", "connect_timeout",
                                         "retries", "retry_statuses", "retry_codes", "retry_for",
                                         "max_backoff", "backoff_base", "max_retry_after", NULL};

static double opt_number(lua_State *L, int t, const char *field, const char *who, double def, double min,
                         double max) {
  int ty = lua_getfield(L, t, field);
  double v = def;
  if (ty != LUA_TNIL) {
    int ok;
    v = lua_tonumberx(L, -1, &ok);
    if (!ok || ty != LUA_TNUMBER || v != v || v < min || v > max)
      dh_raise(L, "INVALID_ARGUMENT", "%s: field '%s' must be a number in [%g, %g]", who, field, min, max);
  }
  lua_pop(L, 1);
  return v;
}

/* Reads the request table at index t into r. */
static void read_req(lua_State *L, int t, dh_http_req *r, const char *who) {
  t = lua_absindex(L, t);
  if (lua_type(L, t) != LUA_TTABLE) dh_raise(L, "INVALID_ARGUMENT", "%s: expected a request table, got %s", who, luaL_typename(L, t));
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_pop(L, 1);
    int known = 0;
    if (lua_type(L, -1) == LUA_TSTRING) {
      const char *k = lua_tostring(L, -1);
      for (int i = 0; req_fields[i]; i++)
        if (strcmp(k, req_fields[i]) == 0) known = 1;
      if (!known)
        dh_raise(L, "INVALID_ARGUMENT",
                  "%s: unknown field '%s' (expected method, url, headers, body, timeout, connect_timeout, "
                  "retries, retry_statuses, retry_codes, retry_for, max_backoff, backoff_base, max_retry_after)",
                  who, k);
    } else {
      dh_raise(L, "INVALID_ARGUMENT", "%s: request keys must be strings", who);
    }
  }
  if (lua_getfield(L, t, "url") != LUA_TSTRING) dh_raise(L, "INVALID_ARGUMENT", "%s: field 'url' must be a string", who);
  const char *url = lua_tostring(L, -1);
  char msg[512];
  const char *bad = dh_http_check_url(url, msg, sizeof msg);
  if (bad) dh_raise(L, bad, "%s: %s", who, msg);
  if (strlen(url) != lua_rawlen(L, -1)) dh_raise(L, "INVALID_URL", "%s: URL contains a NUL byte", who);
  r->url = xstrdup(url);
  lua_pop(L, 1);
  int ty = lua_getfield(L, t, "method");
  const char *m = "GET";
  if (ty == LUA_TSTRING) {
    m = lua_tostring(L, -1);
    if (!*m || strlen(m) > 16 || strspn(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(m))
      dh_raise(L, "INVALID_ARGUMENT", "%s: field 'method' must be an upper-case HTTP method, got '%.20s'", who, m);
  } else if (ty != LUA_TNIL) {
    dh_raise(L, "INVALID_ARGUMENT", "%s: field 'method' must be a string", who);
  }
  r->method = xstrdup(m);
  lua_pop(L, 1);
  if (!r->url || !r->method) dh_raise(L, "HTTP_ERROR", "out of memory");
  ty = lua_getfield(L, t, "body");
  if (ty == LUA_TSTRING) {
    r->body = lua_tolstring(L, -1, &r->body_len); /* the request table keeps it alive */
    r->has_body = 1;
  } else if (ty != LUA_TNIL) {
    dh_raise(L, "INVALID_ARGUMENT", "%s: field 'body' must be a string, got %s", who, luaL_typename(L, -1));
  }
  lua_pop(L, 1);
  ty = lua_getfield(L, t, "headers");
  if (ty == LUA_TTABLE) {
    int h = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, h)) {
      if (lua_type(L, -2) != LUA_TSTRING || (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER))
        dh_raise(L, "INVALID_ARGUMENT", "%s: headers must map names (strings) to strings or numbers", who);
      lua_pushvalue(L, -1);
      const char *v = lua_tostring(L, -1);
      const char *k = lua_tostring(L, -3);
      if (dh_http_req_header(r, k, v) != 0)
        dh_raise(L, "INVALID_ARGUMENT", "%s: header '%.60s' has an invalid name or a CR/LF in its value", who, k);
      lua_pop(L, 2);
    }
  } else if (ty != LUA_TNIL) {
    dh_raise(L, "INVALID_ARGUMENT", "%s: field 'headers' must be a table", who);
  }
  lua_pop(L, 1);
  /* curl would add a form Content-Type to bodies, and Expect: 100-continue to large ones */
  if (!r->has_content_type && !(r->headers = curl_slist_append(r->headers, "Content-Type:")))
    dh_raise(L, "HTTP_ERROR", "out of memory");
  if (!(r->headers = curl_slist_append(r->headers, "Expect:"))) dh_raise(L, "HTTP_ERROR", "out of memory");
  r->timeout_ms = (long)(opt_number(L, t, "timeout", who, 60, 0.001, 86400) * 1000);
  r->connect_timeout_ms = (long)(opt_number(L, t, "connect_timeout", who, 10, 0.001, 3600) * 1000);
  r->retries = (int)opt_number(L, t, "retries", who, 4, 0, 100);
  r->max_backoff = opt_number(L, t, "max_backoff", who, 30, 0, 3600);
  r->backoff_base = opt_number(L, t, "backoff_base", who, 0.5, 0, 3600);
  r->max_retry_after = opt_number(L, t, "max_retry_after", who, 120, 0, 86400);
  r->retry_for = opt_number(L, t, "retry_for", who, 0, 0, 86400);
  ty = lua_getfield(L, t, "retry_codes");
  if (ty == LUA_TTABLE) {
    lua_Integer cnt = luaL_len(L, -1);
    if (cnt > DH_HTTP_MAX_RETRY_CODES)
      dh_raise(L, "INVALID_ARGUMENT", "%s: at most %d retry_codes", who, DH_HTTP_MAX_RETRY_CODES);
    for (lua_Integer i = 1; i <= cnt; i++) {
      size_t cl = 0;
      const char *c = lua_geti(L, -1, i) == LUA_TSTRING ? lua_tolstring(L, -1, &cl) : NULL;
      if (!c || cl == 0 || cl > 128 || strlen(c) != cl)
        dh_raise(L, "INVALID_ARGUMENT", "%s: retry_codes[%d] must be a non-empty error code string", who, (int)i);
      if (!(r->retry_codes[r->n_retry_codes] = xstrdup(c))) dh_raise(L, "HTTP_ERROR", "out of memory");
      r->n_retry_codes++;
      lua_pop(L, 1);
    }
  } else if (ty != LUA_TNIL) {
    dh_raise(L, "INVALID_ARGUMENT", "%s: field 'retry_codes' must be an array of error codes", who);
  }
  lua_pop(L, 1);
  ty = lua_getfield(L, t, "retry_statuses");
  if (ty == LUA_TTABLE) {
    lua_Integer cnt = luaL_len(L, -1);
    if (cnt > DH_HTTP_MAX_RETRY_STATUSES)
      dh_raise(L, "INVALID_ARGUMENT", "%s: at most %d retry_statuses", who, DH_HTTP_MAX_RETRY_STATUSES);
    r->n_retry_statuses = 0;
    for (lua_Integer i = 1; i <= cnt; i++) {
      lua_geti(L, -1, i);
      int ok;
      lua_Integer s = lua_tointegerx(L, -1, &ok);
      if (!ok || s < 100 || s > 599)
        dh_raise(L, "INVALID_ARGUMENT", "%s: retry_statuses[%d] must be an HTTP status (100..599)", who, (int)i);
      r->retry_statuses[r->n_retry_statuses++] = (int)s;
      lua_pop(L, 1);
    }
  } else if (ty != LUA_TNIL) {
    dh_raise(L, "INVALID_ARGUMENT", "%s: field 'retry_statuses' must be an array of statuses", who);
  }
  lua_pop(L, 1);
}

/* As dh_http_push_resp, with the URL the value at index url_idx (a string equal to the URL). */
static void push_resp_url_at(lua_State *L, const dh_http_resp *r, int url_idx) {
  url_idx = lua_absindex(L, url_idx);
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, r->status);
  lua_setfield(L, -2, "status");
  lua_createtable(L, 0, (int)r->nhdrs);
  for (size_t i = 0; i < r->nhdrs; i++) {
    lua_pushstring(L, r->hdrs[i].value);
    lua_setfield(L, -2, r->hdrs[i].name);
  }
  lua_setfield(L, -2, "headers");
  lua_pushlstring(L, r->body ? r->body : "", r->body_len);
  lua_setfield(L, -2, "body");
  lua_pushinteger(L, r->attempts);
  lua_setfield(L, -2, "attempts");
  lua_pushnumber(L, r->elapsed);
  lua_setfield(L, -2, "elapsed");
  lua_pushvalue(L, url_idx);
  lua_setfield(L, -2, "url");
}

void dh_http_push_resp(lua_State *L, const dh_http_resp *r, const char *url) {
  lua_pushstring(L, url);
  push_resp_url_at(L, r, -1);
  lua_remove(L, -2);
}

static void push_transport_error(lua_State *L, const dh_http_req *req, const dh_http_resp *r) {
  dh_http_push_error(L, r->err_code, dh_http_resp_message(r));
  char url[1024];
  dh_redact_params(req->url, strlen(req->url), 1, url, sizeof url);
  lua_pushstring(L, url);
  lua_setfield(L, -2, "url");
  lua_pushinteger(L, r->attempts);
  lua_setfield(L, -2, "attempts");
  lua_pushnumber(L, r->elapsed);
  lua_setfield(L, -2, "elapsed");
}

/* ------------------------------------------------------------------ tasks (cooperative callers)
 *
 * A coroutine marked with http.cooperate(co) is a task of a runtime (modules/task.lua). Inside it
 * http.request, http.all and http.sleep validate their arguments, then yield to the resumer:
 *   "http", requests, opts  -> resumed with the responses, as http.all returns them
 *   "sleep", seconds        -> resumed (with nothing) once the time has passed
 * Elsewhere (the main thread, other coroutines, a C boundary that cannot yield) they block. */

static int in_task(lua_State *L) {
  if (!lua_isyieldable(L)) return 0;
  int yes = 0;
  if (lua_getfield(L, LUA_REGISTRYINDEX, TASKS_KEY) == LUA_TTABLE) {
    lua_pushthread(L);
    yes = lua_rawget(L, -2) != LUA_TNIL;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return yes;
}

/* The `concurrency` field of the options table at index 2 (default 16). */
static int opt_concurrency(lua_State *L, const char *who) {
  if (lua_isnoneornil(L, 2)) return 16;
  dh_checktable(L, 2);
  return (int)opt_number(L, 2, "concurrency", who, 16, 1, 1024);
}

static int same_lines(const struct curl_slist *a, const struct curl_slist *b) {
  for (; a && b; a = a->next, b = b->next)
    if (strcmp(a->data, b->data) != 0) return 0;
  return a == NULL && b == NULL;
}

/* Reads the n request tables of the array at index t into reqs (initialised); who_all NULL: the
 * one request of http.request. A request whose header lines equal the previous one's (a batch
 * from one client: the same token on every request) shares that list instead of a copy. */
static void read_reqs(lua_State *L, int t, dh_http_req *reqs, lua_Integer n, const char *who_all) {
  for (lua_Integer i = 1; i <= n; i++) {
    char who[48];
    if (who_all) snprintf(who, sizeof who, "%s: request %lld", who_all, (long long)i);
    else snprintf(who, sizeof who, "http.request");
    lua_geti(L, t, i);
    dh_http_req *r = &reqs[i - 1];
    read_req(L, -1, r, who);
    lua_pop(L, 1);
    if (i > 1 && same_lines(r->headers, reqs[i - 2].headers)) {
      curl_slist_free_all(r->headers);
      r->headers = reqs[i - 2].headers; /* its owner comes earlier in the batch and is freed with it */
      r->headers_shared = 1;
    }
  }
}

/* Validates n requests of the array at index t (every error raised as in a blocking call). */
static void check_reqs(lua_State *L, int t, lua_Integer n, const char *who_all) {
  batch *b = batch_new(L, (size_t)n);
  read_reqs(L, t, b->reqs, n, who_all);
  batch_free(b);
  lua_pop(L, 1);
}

/* http.cooperate(co): marks co as a task (see above); returns co. */
static int l_cooperate(lua_State *L) {
  if (lua_type(L, 1) != LUA_TTHREAD) dh_argerror(L, 1, "a coroutine");
  if (lua_getfield(L, LUA_REGISTRYINDEX, TASKS_KEY) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, TASKS_KEY);
  }
  lua_pushvalue(L, 1);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  lua_settop(L, 1);
  return 1;
}

/* The responses the task runtime resumed a task with (a table on top), checked. */
static void check_resumed(lua_State *L, const char *who) {
  if (lua_type(L, -1) != LUA_TTABLE) dh_raise(L, "HTTP_ERROR", "%s: the runtime resumed the task without responses", who);
}

/* Continuation of http.request in a task: the resumer passed the responses; raise a transport error. */
static int k_request(lua_State *L, int status, lua_KContext kctx) {
  (void)status;
  (void)kctx;
  check_resumed(L, "http.request");
  lua_geti(L, -1, 1);
  if (lua_type(L, -1) != LUA_TTABLE) dh_raise(L, "HTTP_ERROR", "http.request: the runtime returned no response");
  if (lua_getfield(L, -1, "error") != LUA_TNIL) return lua_error(L);
  lua_pop(L, 1);
  return 1;
}

static int k_all(lua_State *L, int status, lua_KContext kctx) {
  (void)status;
  (void)kctx;
  check_resumed(L, "http.all");
  return 1;
}

static int k_sleep(lua_State *L, int status, lua_KContext kctx) {
  (void)L;
  (void)status;
  (void)kctx;
  return 0;
}

/* The responses as http.all returns them: a response table, or {error = <drhost.error>}. t: the
 * index of the request array they answer; each response's url is its request's url string (not a
 * copy of it) while that still names the URL that was sent. */
static void push_resps(lua_State *L, int t, const dh_http_req *reqs, const dh_http_resp *resps, size_t n) {
  t = lua_absindex(L, t);
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    const dh_http_resp *r = &resps[i];
    if (r->err_code) {
      lua_createtable(L, 0, 1);
      push_transport_error(L, &reqs[i], r);
      lua_setfield(L, -2, "error");
    } else {
      int same = 0;
      if (lua_geti(L, t, (lua_Integer)i + 1) == LUA_TTABLE) {
        same = lua_getfield(L, -1, "url") == LUA_TSTRING && strcmp(lua_tostring(L, -1), reqs[i].url) == 0;
        lua_remove(L, -2);
      }
      if (same) push_resp_url_at(L, r, -1);
      else dh_http_push_resp(L, r, reqs[i].url);
      lua_remove(L, -2);
    }
    lua_seti(L, -2, (lua_Integer)i + 1);
  }
}

static int l_request(lua_State *L) {
  dh_checktable(L, 1);
  if (in_task(L)) {
    lua_createtable(L, 1, 0);
    lua_pushvalue(L, 1);
    lua_seti(L, -2, 1);
    check_reqs(L, lua_gettop(L), 1, NULL);
    lua_pushliteral(L, "http");
    lua_insert(L, -2);
    return lua_yieldk(L, 2, 0, k_request);
  }
  dh_http_ctx *ctx = dh_http_ctx_get(L);
  batch *b = batch_new(L, 1);
  read_req(L, 1, &b->reqs[0], "http.request");
  int rc = dh_http_run(ctx, b->reqs, b->resps, 1, 1);
  if (rc != 0 || b->resps[0].err_code) {
    push_transport_error(L, &b->reqs[0], &b->resps[0]);
    batch_free(b);
    return lua_error(L);
  }
  dh_http_push_resp(L, &b->resps[0], b->reqs[0].url);
  batch_free(b);
  return 1;
}

static int l_all(lua_State *L) {
  dh_checktable(L, 1);
  int concurrency = opt_concurrency(L, "http.all");
  lua_Integer n = luaL_len(L, 1);
  if (n < 0 || n > 1000000) dh_raise(L, "INVALID_ARGUMENT", "http.all: too many requests (%lld)", (long long)n);
  if (in_task(L)) {
    check_reqs(L, 1, n, "http.all");
    lua_settop(L, 2);
    lua_pushliteral(L, "http");
    lua_insert(L, 1);
    return lua_yieldk(L, 3, 0, k_all);
  }
  dh_http_ctx *ctx = dh_http_ctx_get(L);
  batch *b = batch_new(L, (size_t)n);
  read_reqs(L, 1, b->reqs, n, "http.all");
  int rc = dh_http_run(ctx, b->reqs, b->resps, (size_t)n, concurrency);
  if (rc != 0) {
    dh_http_push_error(L, "CANCELLED", "http.all: cancelled by SIGINT");
    batch_free(b);
    return lua_error(L);
  }
  push_resps(L, 1, b->reqs, b->resps, (size_t)n);
  batch_free(b);
  return 1;
}

/* http.now(): seconds on the monotonic clock, fractional (for deadlines and backoff in Lua). */
static int l_now(lua_State *L) {
  lua_pushnumber(L, now_mono());
  return 1;
}

/* http.sleep(s): waits s seconds (0..3600) in short slices so that SIGINT cancels it promptly. */
static int l_sleep(lua_State *L) {
  double s = dh_checknumber(L, 1);
  if (!(s >= 0 && s <= 3600)) dh_raise(L, "INVALID_ARGUMENT", "http.sleep: seconds must be within 0..3600");
  if (in_task(L)) {
    lua_settop(L, 1);
    lua_pushliteral(L, "sleep");
    lua_insert(L, 1);
    return lua_yieldk(L, 2, 0, k_sleep);
  }
  double until = now_mono() + s;
  for (;;) {
    if (dh_cancelled()) {
      dh_http_push_error(L, "CANCELLED", "http.sleep: cancelled by SIGINT");
      return lua_error(L);
    }
    double left = until - now_mono();
    if (left <= 0) break;
    if (left > 0.05) left = 0.05;
    struct timespec ts = {0, (long)(left * 1e9)};
    nanosleep(&ts, NULL);
  }
  return 0;
}

/* ------------------------------------------------------------------ started sets (http.start / http.poll)
 *
 * http.start(requests, {concurrency=}) -> handle: the transfers begin and progress whenever any
 * http call drives the multi handle; http.poll(handles, timeout) waits (at most timeout seconds)
 * until at least one of the handles (the keys of the table) has finished and returns the list of
 * those finished (two runtimes, one run from the other's callback, each get only their own); handle:results()
 * gives the responses as http.all would. This is what the task runtime waits on, so each task is
 * resumed as soon as its own requests are answered. */

typedef struct handle {
  xset s;
  batch b;
  xfer *xs;
} handle;

static void handle_forget(lua_State *L, handle *h) {
  if (!h->s.active) return;
  set_unlink(&h->s);
  if (lua_getfield(L, LUA_REGISTRYINDEX, ACTIVE_KEY) == LUA_TTABLE) {
    lua_pushnil(L);
    lua_rawsetp(L, -2, &h->s);
  }
  lua_pop(L, 1);
}

static int handle_gc(lua_State *L) {
  handle *h = dh_checkudata(L, 1, HANDLE_MT, "an http handle");
  if (h->s.active) {
    set_cancel(&h->s);
    set_unlink(&h->s);
  }
  if (h->xs)
    for (size_t i = 0; i < h->b.n; i++)
      if (h->xs[i].easy) curl_easy_cleanup(h->xs[i].easy);
  free(h->xs);
  h->xs = NULL;
  batch_free(&h->b);
  return 0;
}

static int l_handle_results(lua_State *L) {
  handle *h = dh_checkudata(L, 1, HANDLE_MT, "an http handle");
  if (h->s.done < h->s.n) dh_raise(L, "INVALID_ARGUMENT", "http handle: results() before the requests finished");
  lua_getiuservalue(L, 1, 1);
  push_resps(L, -1, h->b.reqs, h->b.resps, h->b.n);
  return 1;
}

static int l_handle_cancel(lua_State *L) {
  handle *h = dh_checkudata(L, 1, HANDLE_MT, "an http handle");
  if (h->s.active) {
    set_cancel(&h->s);
    handle_forget(L, h);
  }
  return 0;
}

static int l_start(lua_State *L) {
  dh_checktable(L, 1);
  int concurrency = opt_concurrency(L, "http.start");
  dh_http_ctx *ctx = dh_http_ctx_get(L);
  lua_Integer n = luaL_len(L, 1);
  if (n < 0 || n > 1000000) dh_raise(L, "INVALID_ARGUMENT", "http.start: too many requests (%lld)", (long long)n);
  handle *h = lua_newuserdatauv(L, sizeof *h, 1);
  memset(h, 0, sizeof *h);
  if (luaL_newmetatable(L, HANDLE_MT)) {
    lua_pushcfunction(L, handle_gc);
    lua_setfield(L, -2, "__gc");
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, l_handle_results);
    lua_setfield(L, -2, "results");
    lua_pushcfunction(L, l_handle_cancel);
    lua_setfield(L, -2, "cancel");
    lua_setfield(L, -2, "__index");
  }
  lua_setmetatable(L, -2);
  lua_pushvalue(L, 1); /* the request tables own the bodies the transfers borrow */
  lua_setiuservalue(L, -2, 1);
  size_t cnt = n ? (size_t)n : 1;
  h->b.reqs = calloc(cnt, sizeof *h->b.reqs);
  h->b.resps = calloc(cnt, sizeof *h->b.resps);
  h->xs = calloc(cnt, sizeof *h->xs);
  if (!h->b.reqs || !h->b.resps || !h->xs) dh_raise(L, "HTTP_ERROR", "out of memory for %lld requests", (long long)n);
  h->b.n = (size_t)n;
  for (size_t i = 0; i < h->b.n; i++) dh_http_req_init(&h->b.reqs[i]);
  read_reqs(L, 1, h->b.reqs, n, "http.start");
  set_init(&h->s, ctx, h->b.reqs, h->b.resps, h->xs, h->b.n, concurrency);
  if (h->s.n == 0) return 1;
  if (lua_getfield(L, LUA_REGISTRYINDEX, ACTIVE_KEY) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, ACTIVE_KEY);
  }
  lua_pushvalue(L, -2);
  lua_rawsetp(L, -2, &h->s);
  lua_pop(L, 1);
  h->s.active = 1;
  h->s.nxt = ctx->active;
  if (ctx->active) ctx->active->prev = &h->s;
  ctx->active = &h->s;
  set_pump(&h->s);
  return 1;
}

static int l_poll(lua_State *L) {
  dh_checktable(L, 1); /* keys: the handles this caller waits for */
  double timeout = luaL_optnumber(L, 2, 0);
  if (!(timeout >= 0 && timeout <= 3600)) dh_raise(L, "INVALID_ARGUMENT", "http.poll: timeout must be within 0..3600");
  dh_http_ctx *ctx = dh_http_ctx_get(L);
  double until = now_mono() + timeout;
  for (;;) {
    if (dh_cancelled()) {
      detach_all(ctx);
      lua_pushnil(L);
      lua_setfield(L, LUA_REGISTRYINDEX, ACTIVE_KEY);
      dh_http_push_error(L, "CANCELLED", "http.poll: cancelled by SIGINT");
      return lua_error(L);
    }
    int inflight = 0, free_slot = 0;
    for (xset *s = ctx->active; s; s = s->nxt) set_pump(s);
    if (ctx->active) drain(ctx);
    lua_newtable(L);
    lua_Integer k = 0;
    lua_getfield(L, LUA_REGISTRYINDEX, ACTIVE_KEY);
    for (xset *s = ctx->active, *nx; s; s = nx) {
      nx = s->nxt;
      if (s->done >= s->n) {
        lua_rawgetp(L, -1, s);
        lua_pushvalue(L, -1);
        int mine = lua_rawget(L, 1) != LUA_TNIL;
        lua_pop(L, 1);
        if (!mine) { /* another caller's: it stays finished until that caller polls */
          lua_pop(L, 1);
          continue;
        }
        lua_seti(L, -3, ++k);
        lua_pushnil(L);
        lua_rawsetp(L, -2, s);
        set_unlink(s);
      } else {
        inflight += s->inflight;
        if (s->next < s->n && s->inflight < s->concurrency) free_slot = 1;
      }
    }
    lua_pop(L, 1);
    double left = until - now_mono();
    if (k > 0 || left <= 0) {
      return 1;
    }
    lua_pop(L, 1);
    if (free_slot) continue;
    double wait = left < POLL_MS / 1000.0 ? left : POLL_MS / 1000.0;
    for (xset *s = ctx->active; s; s = s->nxt) wait = set_next_due(s, wait);
    int ms = wait > 0 ? (int)(wait * 1000) : 0;
    if (inflight > 0) {
      curl_multi_poll(ctx->multi, NULL, 0, ms, NULL);
    } else if (ms > 0) {
      struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
      nanosleep(&ts, NULL);
    }
  }
}

/* http.in_task(): true inside a coroutine marked by http.cooperate that can yield. */
static int l_in_task(lua_State *L) {
  lua_pushboolean(L, in_task(L));
  return 1;
}

int luaopen_http(lua_State *L) {
  static const luaL_Reg fns[] = {
      {"request", l_request}, {"all", l_all}, {"now", l_now},
      {"sleep", l_sleep},     {"cooperate", l_cooperate}, {"in_task", l_in_task},
      {"start", l_start},     {"poll", l_poll},           {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
