/* Shared Key signing of Blob service requests (blobstate.h). */
#include "blobstate.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void bs_hset(bs_hdrs *h, const char *name, const char *value) {
  if (h->n >= BS_MAX_HDRS) return;
  h->name[h->n] = name;
  snprintf(h->value[h->n], sizeof h->value[0], "%s", value);
  h->n++;
}

static const char *hget(const bs_hdrs *h, const char *name) {
  for (int i = 0; i < h->n; i++)
    if (strcasecmp(h->name[i], name) == 0) return h->value[i];
  return "";
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_q(const void *a, const void *b) {
  return strcmp(((const bs_qparam *)a)->k, ((const bs_qparam *)b)->k);
}

/* Authorization: SharedKey account:base64(HMAC-SHA256(key, StringToSign)) (Blob service, version
 * 2009-09-19 and later; Content-Length empty when zero). */
void bs_shared_key(const char *account, const unsigned char *key, int keylen, const char *method, const char *path,
                   bs_qparam *q, int nq, long content_length, const bs_hdrs *h, char *out, size_t out_size) {
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
  const char *xs[BS_MAX_HDRS] = {0};
  char lines[BS_MAX_HDRS][400];
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
