// fuzz-sources:
/* Log redaction (modules/common/dh_log.c): arbitrary text in, no memory errors, and a redacted
 * text never grows without bound (each secret becomes "[REDACTED]"). */
#include <stdint.h>
#include <stdlib.h>

#include "dh_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dh_buf out;
  dh_buf_init(&out);
  dh_redact((const char *)data, size, &out);
  if (out.oom || out.len > size + 10 * (size + 1)) abort();
  dh_buf_free(&out);
  return 0;
}
