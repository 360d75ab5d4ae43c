// fuzz-sources: modules/http_parse.c
/* The lease length of a LOCKED report (modules/http_parse.c, dh_parse_lease_seconds): the input is
 * the x-ms-lease-duration header, a newline, then the holder's leaseseconds metadata (either may
 * be absent). Never reads past the input and always answers -1 or 15..60. */
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
  char *nl = memchr(s, '\n', size);
  const char *kind = s, *secs = NULL;
  if (nl) {
    *nl = '\0';
    secs = nl + 1;
  }
  int n = dh_parse_lease_seconds(size ? kind : NULL, secs);
  assert(n == -1 || (n >= 15 && n <= 60));
  free(s);
  return 0;
}
