#include "dh_jsonscan.h"

#include <string.h>

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* 2^53 = 9007199254740992 (16 digits). */
static int beyond_2_53(const char *digits, size_t n) {
  if (n != 16) return n > 16;
  return memcmp(digits, "9007199254740992", 16) > 0;
}

size_t dh_json_prescan(const char *s, size_t len, dh_buf *out) {
  size_t changes = 0;
  size_t i = 0;
  size_t copied = 0; /* s[copied..i) not yet copied to out */
  while (i < len) {
    char c = s[i];
    if (c == '"') { /* skip a string, honouring escapes */
      i++;
      while (i < len && s[i] != '"') i += (s[i] == '\\') ? 2 : 1;
      if (i < len) i++;
      continue;
    }
    if (c == '[') {
      size_t j = i + 1;
      while (j < len && is_ws(s[j])) j++;
      if (j < len && s[j] == ']') {
        dh_buf_add(out, s + copied, i - copied);
        dh_buf_adds(out, "[" DH_JSON_EMPTY_MARK_JSON "]");
        i = j + 1;
        copied = i;
        changes++;
        continue;
      }
      i++;
      continue;
    }
    if (c == '-' || is_digit(c)) {
      size_t start = i;
      size_t d = (c == '-') ? i + 1 : i;
      size_t e = d;
      while (e < len && is_digit(s[e])) e++;
      size_t ndig = e - d;
      int more = e < len && (s[e] == '.' || s[e] == 'e' || s[e] == 'E');
      /* Only a well-formed integer (no leading zero) that loses precision as a double. */
      if (!more && ndig > 0 && s[d] != '0' && beyond_2_53(s + d, ndig)) {
        dh_buf_add(out, s + copied, start - copied);
        dh_buf_addc(out, '"');
        dh_buf_add(out, s + start, e - start);
        dh_buf_addc(out, '"');
        copied = e;
        changes++;
      }
      /* Skip the rest of the number (fraction, exponent) so its digits are not rescanned. */
      if (more && s[e] == '.') {
        e++;
        while (e < len && is_digit(s[e])) e++;
      }
      if (e < len && (s[e] == 'e' || s[e] == 'E')) {
        e++;
        if (e < len && (s[e] == '+' || s[e] == '-')) e++;
        while (e < len && is_digit(s[e])) e++;
      }
      i = (e > i) ? e : i + 1;
      continue;
    }
    i++;
  }
  if (changes) dh_buf_add(out, s + copied, len - copied);
  return changes;
}
