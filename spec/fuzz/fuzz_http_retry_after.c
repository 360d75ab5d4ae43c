// fuzz-sources: modules/http_parse.c
/* Retry-After and HTTP-date parsing (modules/http_parse.c): never crashes, never reads past the
 * input, and a parsed delay is finite and non-negative. */
#include "http_parse.h"

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* exact-size copy so ASan catches any read past the end */
  char *s = malloc(size ? size : 1);
  if (!s) return 0;
  if (size) memcpy(s, data, size);
  double d = -1;
  if (dh_parse_retry_after(s, size, (time_t)1700000000, &d) == 0) {
    assert(d >= 0 && d == d && d <= 2147483647.0 * 2);
  }
  time_t t;
  if (dh_parse_http_date(s, size, &t) == 0) assert(t >= 0);
  free(s);
  return 0;
}
