// fuzz-sources: modules/http_parse.c
/* The retry-code scan of a response body (modules/http_parse.c): reads only inside the body, and a
 * match means the body really holds "code" or "error_code" with that string value. */
#include "http_parse.h"

#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* first byte: length of the code taken from the front of the rest; the remainder is the body */
  if (size < 1) return 0;
  size_t cl = data[0] % 40;
  if (cl > size - 1) cl = size - 1;
  char *code = malloc(cl ? cl : 1), *body = malloc(size - 1 - cl ? size - 1 - cl : 1);
  if (!code || !body) {
    free(code);
    free(body);
    return 0;
  }
  memcpy(code, data + 1, cl);
  size_t bl = size - 1 - cl;
  memcpy(body, data + 1 + cl, bl);
  int hit = dh_body_names_code(body, bl, code, cl);
  assert(hit == 0 || hit == 1);
  if (hit) assert(cl > 0 && bl >= cl + 9);
  free(code);
  free(body);
  return 0;
}
