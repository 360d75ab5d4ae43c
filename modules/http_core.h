/* The curl machinery behind the `http` module, shared with `blobstate` (C side). */
#ifndef DH_HTTP_CORE_H
#define DH_HTTP_CORE_H

#include <curl/curl.h>
#include <lua.h>
#include <stdatomic.h>
#include <stddef.h>

#define DH_HTTP_MAX_RETRY_STATUSES 32
#define DH_HTTP_MAX_RETRY_CODES 16

typedef struct dh_http_req {
  char *method; /* owned */
  char *url;    /* owned */
  struct curl_slist *headers; /* owned, unless headers_shared */
  int headers_shared; /* headers belong to an earlier request of the same batch (equal lines) */
  const char *body; /* borrowed: must stay alive during the run */
  size_t body_len;
  int has_body;
  int has_content_type;
  long timeout_ms, connect_timeout_ms;
  int retries;
  int retry_statuses[DH_HTTP_MAX_RETRY_STATUSES];
  int n_retry_statuses;
  char *retry_codes[DH_HTTP_MAX_RETRY_CODES]; /* owned: error codes a body may name to be retried */
  int n_retry_codes;
  double max_backoff, backoff_base, max_retry_after; /* seconds */
  double retry_for; /* seconds from the first attempt after which nothing is retried; 0: no bound */
} dh_http_req;

typedef struct dh_http_hdr {
  char *name; /* lower-cased; owned: one allocation holds the name, then the value */
  char *value; /* repeated headers joined by ", "; points into name's allocation */
} dh_http_hdr;

typedef struct dh_http_resp {
  long status;
  dh_http_hdr *hdrs;
  size_t nhdrs, hcap;
  char *body;
  size_t body_len, body_cap;
  int attempts;
  double elapsed;
  const char *err_code; /* NULL on success, else CONNECT_ERROR / TIMEOUT / TLS_ERROR / CANCELLED / ... */
  char *err_msg; /* owned; the message when err_code is set (NULL only when it could not be allocated) */
} dh_http_resp;

typedef struct dh_http_ctx dh_http_ctx;

/* Request defaults (retries 4 on 429/502/503/504, timeout 60 s, connect 10 s, backoff 0.5 s base
 * capped at 30 s, Retry-After honoured up to 120 s, no retry codes, no total bound). This is the
 * one retry policy of drhost: callers only choose its parameters per request. */
void dh_http_req_init(dh_http_req *r);
void dh_http_req_free(dh_http_req *r);
void dh_http_resp_free(dh_http_resp *r);
/* Adds "Name: value" (copied); -1 on CR/LF/NUL in either or on allocation failure. */
int dh_http_req_header(dh_http_req *r, const char *name, const char *value);
/* The message of a failed response (never NULL). */
const char *dh_http_resp_message(const dh_http_resp *r);
/* Value of a response header by lower-case name, or NULL. */
const char *dh_http_header(const dh_http_resp *r, const char *lname);

/* The process-wide (per Lua state) context: the persistent multi handle (connection cache, HTTP/2
 * multiplexing) and the extra CA certificates from DRHOST_CA_BUNDLE. Created on first use; raises
 * a drhost.error when DRHOST_CA_BUNDLE cannot be loaded. */
dh_http_ctx *dh_http_ctx_get(lua_State *L);

/* URL policy: NULL when allowed, else the error code (INSECURE_URL, INVALID_URL) with a message. */
const char *dh_http_check_url(const char *url, char *msg, size_t msg_size);

/* Runs n requests with at most `concurrency` in flight (retries scheduled without blocking the
 * others). Every resp is filled (err_code set on transport failure). Returns 0, or -1 when
 * cancelled by SIGINT (then every unfinished resp has err_code CANCELLED). Transfers started by
 * http.start on the same multi handle keep progressing (and are settled) meanwhile. */
int dh_http_run(dh_http_ctx *ctx, dh_http_req *reqs, dh_http_resp *resps, size_t n, int concurrency);

/* For a background thread (blobstate lease renewal): runs one request on its own easy handle,
 * blocking, with the same options, TLS trust and retry policy, never touching Lua. `certs` is the
 * value of dh_http_ctx_certs_ref() (may be NULL). When *abort_flag (may be NULL) becomes non-zero
 * the transfer and any retry wait stop at once (err_code CANCELLED). */
void dh_http_perform_blocking(CURL *easy, void *certs, dh_http_req *req, dh_http_resp *resp,
                              atomic_int *abort_flag);
/* A reference to the extra certificates for use from another thread; release with
 * dh_http_certs_unref(). */
void *dh_http_ctx_certs_ref(dh_http_ctx *ctx);
void dh_http_certs_unref(void *certs);

/* Pushes a drhost.error table (code, message) on the stack, built by dh_raise so it carries the
 * shared metatable; the caller may add fields and lua_error() it. */
void dh_http_push_error(lua_State *L, const char *code, const char *msg);
/* Pushes the response as the Lua table of the http contract. */
void dh_http_push_resp(lua_State *L, const dh_http_resp *r, const char *url);

#endif
