// fuzz-sources: modules/http_parse.c
/* Response header lines (modules/http_parse.c): name and value stay inside the line, the name is a
 * non-empty token without ':' and the value has no surrounding blanks. */
#include "http_parse.h"

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size ? size : 1);
  if (!s) return 0;
  if (size) memcpy(s, data, size);
  const char *n = NULL, *v = NULL;
  size_t nl = 0, vl = 0;
  int kind = dh_parse_header_line(s, size, &n, &nl, &v, &vl);
  assert(kind >= -1 && kind <= 2);
  if (kind == 0) {
    assert(n == s && nl > 0 && nl < size);
    assert(memchr(n, ':', nl) == NULL);
    assert(v >= s && v + vl <= s + size);
    if (vl) assert(v[0] != ' ' && v[0] != '\t' && v[vl - 1] != ' ' && v[vl - 1] != '\t');
    (void)dh_header_is_secret(n, nl);
  }
  free(s);
  return 0;
}
