// fuzz-sources:
/* Base64/base64url decoders (modules/common/dh_base64.c): no memory errors, and because decoding
 * is strict (canonical), whatever decodes must re-encode to the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dh_base64.h"

static void check_variant(const char *in, size_t len, int variant) {
  dh_buf out, again;
  dh_buf_init(&out);
  dh_buf_init(&again);
  size_t off = 0;
  const char *why = NULL;
  if (dh_base64_decode(in, len, variant, &out, &off, &why) == 0) {
    dh_base64_encode((const unsigned char *)out.data, out.len, variant, &again);
    size_t n = len;
    if (variant == DH_B64_URL)
      while (n > 0 && in[n - 1] == '=') n--; /* URL encoding has no padding */
    if (again.len != n || (n && memcmp(again.data, in, n) != 0)) abort();
  } else {
    if (!why || off > len) abort();
  }
  /* any bytes encode, and decode back */
  dh_buf_reset(&again);
  dh_buf_reset(&out);
  dh_base64_encode((const unsigned char *)in, len, variant, &again);
  if (dh_base64_decode(again.data ? again.data : "", again.len, variant, &out, &off, &why) != 0) abort();
  if (out.len != len || (len && memcmp(out.data, in, len) != 0)) abort();
  dh_buf_free(&out);
  dh_buf_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check_variant((const char *)data, size, DH_B64_STD);
  check_variant((const char *)data, size, DH_B64_URL);
  return 0;
}
