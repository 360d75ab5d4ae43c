// fuzz-sources:
/* The JSON pre-scan (modules/common/dh_jsonscan.c) alone: no memory errors; unchanged text is not
 * copied; a rewritten text is re-scanned without further big-integer rewrites (idempotence of
 * the quoting: a quoted number is inside a string the second time). */
#include <stdint.h>
#include <stdlib.h>

#include "dh_jsonscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dh_buf out;
  dh_buf_init(&out);
  size_t changes = dh_json_prescan((const char *)data, size, &out);
  if (changes == 0 && out.len != 0) abort();
  if (changes > 0) {
    if (out.len == 0) abort();
    /* The second pass can only find the markers' arrays non-empty now: no new rewrites. */
    dh_buf again;
    dh_buf_init(&again);
    if (dh_json_prescan(out.data, out.len, &again) != 0) abort();
    dh_buf_free(&again);
  }
  dh_buf_free(&out);
  return 0;
}
