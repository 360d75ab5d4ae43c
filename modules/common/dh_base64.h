/* Base64 (RFC 4648 section 4) and base64url (section 5) codecs, strict on decode. */
#ifndef DH_BASE64_H
#define DH_BASE64_H
#include <stddef.h>
#include "dh_buf.h"

enum { DH_B64_STD = 0, DH_B64_URL = 1 };

/* Standard: padded. URL: no padding. */
void dh_base64_encode(const unsigned char *in, size_t len, int variant, dh_buf *out);

/* Strict decode: only the variant's alphabet; standard input must be padded to a multiple of 4;
 * URL input may be unpadded or correctly padded; no whitespace; the unused bits of the last
 * character must be zero. Returns 0, or -1 with *bad_offset = offset of the first offending
 * character (len for a bad length) and *why a static description. */
int dh_base64_decode(const char *in, size_t len, int variant, dh_buf *out, size_t *bad_offset,
                     const char **why);
#endif
