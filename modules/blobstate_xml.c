/* Minimal XML scanning for the Blob service (see blobstate_xml.h). */
#include "blobstate_xml.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char *find(const char *s, size_t len, const char *needle, size_t nlen) {
  if (nlen == 0 || len < nlen) return NULL;
  for (size_t i = 0; i + nlen <= len; i++)
    if (s[i] == needle[0] && memcmp(s + i, needle, nlen) == 0) return s + i;
  return NULL;
}

int dh_xml_element(const char *s, size_t len, size_t *pos, const char *tag, const char **inner,
                   size_t *inner_len) {
  size_t tl = strlen(tag);
  if (tl == 0 || tl > 64 || *pos > len) return -1;
  char close[70];
  snprintf(close, sizeof close, "</%s>", tag);
  size_t p = *pos;
  while (p < len) {
    const char *lt = memchr(s + p, '<', len - p);
    if (!lt) return -1;
    size_t at = (size_t)(lt - s);
    /* "<tag" followed by '>', '/', or blank */
    if (at + 1 + tl <= len && memcmp(lt + 1, tag, tl) == 0 && at + 1 + tl < len) {
      char c = lt[1 + tl];
      if (c == '>' || c == '/' || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        const char *gt = memchr(lt, '>', len - at);
        if (!gt) return -1;
        size_t after = (size_t)(gt - s) + 1;
        if (gt > lt && gt[-1] == '/') { /* <tag/> */
          *inner = s + after;
          *inner_len = 0;
          *pos = after;
          return 0;
        }
        const char *end = find(s + after, len - after, close, tl + 3);
        if (!end) return -1;
        *inner = s + after;
        *inner_len = (size_t)(end - (s + after));
        *pos = (size_t)(end - s) + tl + 3;
        return 0;
      }
    }
    p = at + 1;
  }
  return -1;
}

static size_t put_utf8(uint32_t cp, char *out) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Decodes one reference at s (s[0] == '&'); returns the consumed length or 0 when invalid. */
static size_t entity(const char *s, size_t len, char *out, size_t *written) {
  static const struct {
    const char *name;
    char ch;
  } named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
  for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
    size_t nl = strlen(named[i].name);
    if (len >= 1 + nl && memcmp(s + 1, named[i].name, nl) == 0) {
      out[0] = named[i].ch;
      *written = 1;
      return 1 + nl;
    }
  }
  if (len < 4 || s[1] != '#') return 0;
  size_t i = 2;
  int hex = 0;
  if (s[i] == 'x' || s[i] == 'X') {
    hex = 1;
    i++;
  }
  uint32_t cp = 0;
  size_t digits = 0;
  while (i < len && s[i] != ';') {
    char c = s[i];
    uint32_t d;
    if (c >= '0' && c <= '9') d = (uint32_t)(c - '0');
    else if (hex && c >= 'a' && c <= 'f') d = (uint32_t)(c - 'a' + 10);
    else if (hex && c >= 'A' && c <= 'F') d = (uint32_t)(c - 'A' + 10);
    else return 0;
    cp = cp * (hex ? 16 : 10) + d;
    if (cp > 0x10FFFF) return 0;
    digits++;
    i++;
  }
  if (i >= len || digits == 0 || cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  *written = put_utf8(cp, out);
  return i + 1;
}

size_t dh_xml_unescape(const char *s, size_t len, char *out) {
  size_t o = 0;
  for (size_t i = 0; i < len;) {
    if (s[i] == '&') {
      size_t w = 0;
      size_t used = entity(s + i, len - i, out + o, &w);
      if (used) {
        o += w;
        i += used;
        continue;
      }
    }
    out[o++] = s[i++];
  }
  return o;
}
