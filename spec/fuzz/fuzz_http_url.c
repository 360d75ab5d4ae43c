// fuzz-sources: modules/http_parse.c
/* URL policy and redaction (modules/http_parse.c): the host is NUL-terminated and lower-case, the
 * redacted copy always fits and is NUL-terminated, and the value of a secret parameter appended to
 * any URL never survives. */
#include "http_parse.h"

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) return 0;
  if (size) memcpy(s, data, size);
  s[size] = '\0';
  char host[64];
  int kind = dh_url_scheme_host(s, size, host, sizeof host);
  assert(kind >= -1 && kind <= 1);
  if (kind >= 0) {
    size_t hl = strlen(host);
    assert(hl > 0 && hl < sizeof host);
    for (size_t i = 0; i < hl; i++) assert(!(host[i] >= 'A' && host[i] <= 'Z'));
    (void)dh_host_is_loopback(host);
  }
  size_t sizes[] = {0, 1, 5, 17, 300};
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    char *out = malloc(sizes[k] ? sizes[k] : 1);
    if (!out) break;
    size_t n = dh_redact_params(s, size, (int)(k & 1), out, sizes[k]);
    if (sizes[k]) {
      assert(n < sizes[k]);
      assert(out[n] == '\0');
    }
    free(out);
  }
  /* data + "?&sig=S3CR3T": the marker may appear in the output only as often as in the data */
  static const char tail[] = "?&sig=S3CR3T&client_secret=S3CR3T";
  char *u = malloc(size + sizeof tail);
  char *out = malloc(4096);
  if (u && out && size < 2048) {
    memcpy(u, s, size);
    memcpy(u + size, tail, sizeof tail);
    size_t on = dh_redact_params(u, size + sizeof tail - 1, 1, out, 4096);
    int in_data = 0, in_out = 0;
    for (const char *p = s; (p = memmem(p, size - (size_t)(p - s), "S3CR3T", 6)) != NULL; p++) in_data++;
    for (const char *p = out; (p = memmem(p, on - (size_t)(p - out), "S3CR3T", 6)) != NULL; p++) in_out++;
    assert(in_out <= in_data);
  }
  free(u);
  free(out);
  free(s);
  return 0;
}
