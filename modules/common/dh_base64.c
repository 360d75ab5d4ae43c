#include "dh_base64.h"

static const char STD[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void dh_base64_encode(const unsigned char *in, size_t len, int variant, dh_buf *out) {
  const char *a = variant == DH_B64_URL ? URL : STD;
  if (dh_buf_reserve(out, (len + 2) / 3 * 4) != 0) return;
  size_t i = 0;
  for (; i + 3 <= len; i += 3) {
    unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
    char q[4] = {a[v >> 18], a[(v >> 12) & 63], a[(v >> 6) & 63], a[v & 63]};
    dh_buf_add(out, q, 4);
  }
  size_t rest = len - i;
  if (rest) {
    unsigned v = (unsigned)in[i] << 16 | (rest == 2 ? (unsigned)in[i + 1] << 8 : 0u);
    char third = '=';
    if (rest == 2) third = a[(v >> 6) & 63];
    char q[4] = {a[v >> 18], a[(v >> 12) & 63], third, '='};
    size_t n = 4;
    if (variant == DH_B64_URL) n = rest + 1;
    dh_buf_add(out, q, n);
  }
}

static int value_of(unsigned char c, int variant) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (variant == DH_B64_URL) {
    if (c == '-') return 62;
    if (c == '_') return 63;
  } else {
    if (c == '+') return 62;
    if (c == '/') return 63;
  }
  return -1;
}

int dh_base64_decode(const char *in, size_t len, int variant, dh_buf *out, size_t *bad_offset,
                     const char **why) {
  size_t n = len; /* characters before padding */
  size_t pad = 0;
  while (n > 0 && in[n - 1] == '=' && pad < 2) {
    n--;
    pad++;
  }
  if (pad && len % 4 != 0) {
    *bad_offset = len;
    *why = "padded input must be a multiple of 4 characters";
    return -1;
  }
  if (variant == DH_B64_STD && len % 4 != 0) {
    *bad_offset = len;
    *why = "length is not a multiple of 4 (missing padding?)";
    return -1;
  }
  if (n % 4 == 1) {
    *bad_offset = len;
    *why = "length leaves a single dangling character";
    return -1;
  }
  if (pad && (n + pad) % 4 != 0) {
    *bad_offset = n;
    *why = "wrong amount of padding";
    return -1;
  }
  if (dh_buf_reserve(out, n / 4 * 3 + 3) != 0) {
    *bad_offset = 0;
    *why = "out of memory";
    return -1;
  }
  unsigned acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = value_of((unsigned char)in[i], variant);
    if (v < 0) {
      *bad_offset = i;
      *why = in[i] == '=' ? "padding in the middle" : "character outside the alphabet";
      return -1;
    }
    acc = ((acc << 6) | (unsigned)v) & 0xffffffu;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      dh_buf_addc(out, (char)((acc >> bits) & 0xff));
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
    *bad_offset = n - 1;
    *why = "non-zero trailing bits (not canonical)";
    return -1;
  }
  return 0;
}
