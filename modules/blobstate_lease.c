/* The thread that renews an Azure Blob lease while a run holds it (blobstate.h): every
 * duration/3 seconds on its own curl easy handle, never touching Lua. A renewal the service
 * refuses (the lease was broken or taken) marks the lease lost and ends the thread. */
#include "blobstate.h"
#include "http_core.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The renewal request into req (headers signed or with the bearer token); 0 when it is complete. */
static int renewal_request(lease *l, const char *token, double every, dh_http_req *req) {
  req->retries = 2;
  req->backoff_base = 0.5;
  req->max_backoff = 2;
  req->timeout_ms = (long)(every * 1000 / 2);
  req->connect_timeout_ms = req->timeout_ms;
  req->method = bs_strdup("PUT");
  req->url = bs_strdup(l->url);
  bs_hdrs h = {.n = 0};
  char date[64];
  bs_utc_now(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT");
  bs_hset(&h, "x-ms-date", date);
  bs_hset(&h, "x-ms-version", BS_XMS_VERSION);
  bs_hset(&h, "x-ms-lease-action", "renew");
  bs_hset(&h, "x-ms-lease-id", l->id);
  char auth[256] = "";
  if (l->keylen) {
    bs_qparam q[] = {{"comp", "lease"}};
    bs_shared_key(l->account, l->key, l->keylen, "PUT", l->res, q, 1, 0, &h, auth, sizeof auth);
  }
  int ok = req->method && req->url;
  for (int i = 0; ok && i < h.n; i++) ok = dh_http_req_header(req, h.name[i], h.value[i]) == 0;
  if (ok && auth[0]) ok = dh_http_req_header(req, "Authorization", auth) == 0;
  if (ok && token) {
    size_t tl = strlen(token);
    char *line = malloc(tl + 8);
    ok = line != NULL;
    if (ok) {
      snprintf(line, tl + 8, "Bearer %s", token);
      ok = dh_http_req_header(req, "Authorization", line) == 0;
      free(line);
    }
  }
  if (!ok) return -1;
  req->headers = curl_slist_append(req->headers, "Content-Type:");
  req->body = "";
  req->has_body = 1;
  return 0;
}

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
    char *token = l->token ? bs_strdup(l->token) : NULL;
    pthread_mutex_unlock(&l->mu);

    dh_http_req req;
    dh_http_resp resp;
    dh_http_req_init(&req);
    memset(&resp, 0, sizeof resp);
    int ok = easy && renewal_request(l, token, every, &req) == 0;
    if (ok) dh_http_perform_blocking(easy, l->certs, &req, &resp, &l->abort_now);
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

int bs_renewal_start(lease *l) {
  if (pthread_create(&l->thread, NULL, renew_main, l) != 0) return -1;
  l->thread_started = 1;
  return 0;
}

void bs_renewal_stop(lease *l) {
  if (!l->thread_started) return;
  pthread_mutex_lock(&l->mu);
  l->stop = 1;
  atomic_store(&l->abort_now, 1);
  pthread_cond_signal(&l->cv);
  pthread_mutex_unlock(&l->mu);
  pthread_join(l->thread, NULL);
  l->thread_started = 0;
}
