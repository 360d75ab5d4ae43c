/* Pure parsers for the http/blobstate modules: Retry-After, HTTP dates, header lines, URL policy and
 * redaction. No allocation, no Lua, no curl, so each is fuzzed directly (spec/fuzz/). */
#include "http_parse.h"

#include <stdint.h>
#include <string.h>

static int lower(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }
static int is_digit(int c) { return c >= '0' && c <= '9'; }
static int is_blank(int c) { return c == ' ' || c == '\t'; }

static int ieq(const char *a, size_t alen, const char *b) {
  size_t blen = strlen(b);
  if (alen != blen) return 0;
  for (size_t i = 0; i < alen; i++)
    if (lower((unsigned char)a[i]) != lower((unsigned char)b[i])) return 0;
  return 1;
}

static int icontains(const char *a, size_t alen, const char *needle) {
  size_t n = strlen(needle);
  if (n == 0 || alen < n) return n == 0;
  for (size_t i = 0; i + n <= alen; i++)
    if (ieq(a + i, n, needle)) return 1;
  return 0;
}

/* ---------------------------------------------------------------- dates */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

typedef struct {
  const char *p, *end;
} cur;

static void skip_blanks(cur *c) {
  while (c->p < c->end && is_blank((unsigned char)*c->p)) c->p++;
}

/* Reads 1..maxd digits into *v. */
static int read_num(cur *c, int mind, int maxd, int *v) {
  int n = 0, val = 0;
  while (c->p < c->end && n < maxd && is_digit((unsigned char)*c->p)) {
    val = val * 10 + (*c->p - '0');
    c->p++;
    n++;
  }
  if (n < mind) return -1;
  *v = val;
  return 0;
}

static int read_word(cur *c, const char **w, size_t *wl) {
  const char *s = c->p;
  while (c->p < c->end && ((*c->p >= 'A' && *c->p <= 'Z') || (*c->p >= 'a' && *c->p <= 'z'))) c->p++;
  *w = s;
  *wl = (size_t)(c->p - s);
  return *wl ? 0 : -1;
}

static int expect(cur *c, char ch) {
  if (c->p < c->end && *c->p == ch) {
    c->p++;
    return 0;
  }
  return -1;
}

static int month_of(const char *w, size_t wl) {
  static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec"};
  for (int i = 0; i < 12; i++)
    if (ieq(w, wl, months[i])) return i + 1;
  return 0;
}

static int is_weekday(const char *w, size_t wl) {
  static const char *const days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun",
                                     "monday", "tuesday", "wednesday", "thursday",
                                     "friday", "saturday", "sunday"};
  for (size_t i = 0; i < sizeof days / sizeof days[0]; i++)
    if (ieq(w, wl, days[i])) return 1;
  return 0;
}

static int read_clock(cur *c, int *hh, int *mm, int *ss) {
  if (read_num(c, 2, 2, hh) || expect(c, ':') || read_num(c, 2, 2, mm) || expect(c, ':') ||
      read_num(c, 2, 2, ss))
    return -1;
  return 0;
}

static int finish_date(int y, int mon, int d, int hh, int mm, int ss, time_t *out) {
  static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mon < 1 || mon > 12 || d < 1 || d > mdays[mon - 1] || hh > 23 || mm > 59 || ss > 60)
    return -1;
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mon == 2 && d == 29 && !leap) return -1;
  int64_t t = days_from_civil(y, mon, d) * 86400 + (int64_t)hh * 3600 + (int64_t)mm * 60 + ss;
  if (t < 0) t = 0;
  if (sizeof(time_t) < 8 && t > INT32_MAX) t = INT32_MAX;
  *out = (time_t)t;
  return 0;
}

int dh_parse_http_date(const char *s, size_t len, time_t *out) {
  cur c = {s, s + len};
  const char *w;
  size_t wl;
  int y, mon, d, hh, mm, ss;
  skip_blanks(&c);
  if (read_word(&c, &w, &wl) || !is_weekday(w, wl)) return -1;
  if (c.p < c.end && *c.p == ',') {
    c.p++;
    skip_blanks(&c);
    if (read_num(&c, 1, 2, &d)) return -1;
    if (c.p < c.end && *c.p == '-') {
      /* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
      c.p++;
      if (read_word(&c, &w, &wl) || !(mon = month_of(w, wl)) || expect(&c, '-') ||
          read_num(&c, 2, 2, &y))
        return -1;
      y += y < 70 ? 2000 : 1900;
    } else {
      /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
      skip_blanks(&c);
      if (read_word(&c, &w, &wl) || !(mon = month_of(w, wl))) return -1;
      skip_blanks(&c);
      if (read_num(&c, 4, 4, &y)) return -1;
    }
    skip_blanks(&c);
    if (read_clock(&c, &hh, &mm, &ss)) return -1;
    skip_blanks(&c);
    if (read_word(&c, &w, &wl) || !(ieq(w, wl, "GMT") || ieq(w, wl, "UTC"))) return -1;
  } else {
    /* asctime: Sun Nov  6 08:49:37 1994 */
    skip_blanks(&c);
    if (read_word(&c, &w, &wl) || !(mon = month_of(w, wl))) return -1;
    skip_blanks(&c);
    if (read_num(&c, 1, 2, &d)) return -1;
    skip_blanks(&c);
    if (read_clock(&c, &hh, &mm, &ss)) return -1;
    skip_blanks(&c);
    if (read_num(&c, 4, 4, &y)) return -1;
  }
  skip_blanks(&c);
  if (c.p != c.end) return -1;
  return finish_date(y, mon, d, hh, mm, ss, out);
}

int dh_parse_retry_after(const char *s, size_t len, time_t now, double *delay) {
  cur c = {s, s + len};
  skip_blanks(&c);
  while (c.end > c.p && (is_blank((unsigned char)c.end[-1]) || c.end[-1] == '\r' || c.end[-1] == '\n'))
    c.end--;
  if (c.p == c.end) return -1;
  if (is_digit((unsigned char)*c.p)) {
    int64_t v = 0;
    while (c.p < c.end && is_digit((unsigned char)*c.p)) {
      if (v < INT32_MAX) v = v * 10 + (*c.p - '0');
      c.p++;
    }
    if (c.p != c.end) return -1;
    if (v > INT32_MAX) v = INT32_MAX;
    *delay = (double)v;
    return 0;
  }
  time_t t;
  if (dh_parse_http_date(c.p, (size_t)(c.end - c.p), &t)) return -1;
  double d = t > now ? (double)t - (double)now : 0.0;
  *delay = d > (double)INT32_MAX ? (double)INT32_MAX : d;
  return 0;
}

/* ---------------------------------------------------------------- headers */

int dh_parse_header_line(const char *line, size_t len, const char **name, size_t *name_len,
                         const char **value, size_t *value_len) {
  size_t end = len;
  while (end > 0 && (line[end - 1] == '\r' || line[end - 1] == '\n')) end--;
  if (end == 0) return 2;
  if (end >= 5 && memcmp(line, "HTTP/", 5) == 0) return 1;
  size_t i = 0;
  /* token characters only (RFC 9110 5.6.2) */
  while (i < end && line[i] != ':') {
    unsigned char ch = (unsigned char)line[i];
    if (ch <= 32 || ch >= 127 || strchr("\"(),/;<=>?@[\\]{}", ch)) return -1;
    i++;
  }
  if (i == 0 || i == end) return -1;
  *name = line;
  *name_len = i;
  size_t v = i + 1;
  while (v < end && is_blank((unsigned char)line[v])) v++;
  size_t ve = end;
  while (ve > v && is_blank((unsigned char)line[ve - 1])) ve--;
  *value = line + v;
  *value_len = ve - v;
  return 0;
}

int dh_header_is_secret(const char *name, size_t len) {
  static const char *const parts[] = {"authorization", "cookie", "token", "secret",
                                      "key", "signature", "password", "credential"};
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
    if (icontains(name, len, parts[i])) return 1;
  return 0;
}

int dh_param_is_secret(const char *key, size_t len) {
  static const char *const exact[] = {"sig", "code", "key", "signature", "sv_sig", "client_secret",
                                      "client_assertion", "assertion", "access_token", "refresh_token",
                                      "id_token", "token", "password", "subject_token"};
  for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
    if (ieq(key, len, exact[i])) return 1;
  return icontains(key, len, "secret") || icontains(key, len, "token") ||
         icontains(key, len, "password") || icontains(key, len, "assertion");
}

/* ---------------------------------------------------------------- redaction */

typedef struct {
  char *out;
  size_t size, n;
  int full;
} sink;

static void put(sink *k, const char *s, size_t len) {
  for (size_t i = 0; i < len && !k->full; i++) {
    if (k->n + 4 >= k->size) { /* keep room for "..." and the NUL */
      if (k->size >= 4) {
        memcpy(k->out + k->n, "...", 3);
        k->n += 3;
      }
      k->full = 1;
      return;
    }
    k->out[k->n++] = s[i];
  }
}

static void redact_pairs(sink *k, const char *s, size_t len) {
  size_t i = 0;
  while (i < len && !k->full) {
    size_t j = i;
    while (j < len && s[j] != '&' && s[j] != ';') j++;
    const char *eq = memchr(s + i, '=', j - i);
    if (eq && dh_param_is_secret(s + i, (size_t)(eq - (s + i)))) {
      put(k, s + i, (size_t)(eq - (s + i)) + 1);
      put(k, "REDACTED", 8);
    } else {
      put(k, s + i, j - i);
    }
    if (j < len) put(k, s + j, 1);
    i = j + 1;
  }
}

size_t dh_redact_params(const char *s, size_t len, int is_url, char *out, size_t out_size) {
  sink k = {out, out_size, 0, 0};
  if (out_size == 0) return 0;
  if (out_size < 5) {
    out[0] = '\0';
    return 0;
  }
  if (is_url) {
    const char *q = memchr(s, '?', len);
    const char *hash = memchr(s, '#', len);
    size_t base = q ? (size_t)(q - s) + 1 : (hash ? (size_t)(hash - s) : len);
    put(&k, s, base);
    if (q) {
      size_t qend = len;
      const char *h2 = memchr(q, '#', len - (size_t)(q - s));
      if (h2) qend = (size_t)(h2 - s);
      redact_pairs(&k, q + 1, qend - base);
    }
  } else {
    redact_pairs(&k, s, len);
  }
  out[k.n] = '\0';
  return k.n;
}

/* ---------------------------------------------------------------- URL policy */

int dh_url_scheme_host(const char *url, size_t len, char *host, size_t host_size) {
  int kind;
  size_t p;
  if (host_size == 0) return -1;
  host[0] = '\0';
  if (len >= 8 && ieq(url, 8, "https://")) {
    kind = 0;
    p = 8;
  } else if (len >= 7 && ieq(url, 7, "http://")) {
    kind = 1;
    p = 7;
  } else {
    return -1;
  }
  size_t a_end = p;
  while (a_end < len && url[a_end] != '/' && url[a_end] != '?' && url[a_end] != '#') a_end++;
  size_t h = p;
  for (size_t i = p; i < a_end; i++)
    if (url[i] == '@') h = i + 1; /* skip userinfo */
  size_t h_end;
  if (h < a_end && url[h] == '[') {
    const char *rb = memchr(url + h, ']', a_end - h);
    if (!rb) return -1;
    h_end = (size_t)(rb - url);
    h++;
    if (h_end + 1 < a_end && url[h_end + 1] != ':') return -1;
  } else {
    h_end = h;
    while (h_end < a_end && url[h_end] != ':') h_end++;
  }
  size_t hl = h_end - h;
  if (hl == 0 || hl >= host_size) return -1;
  for (size_t i = 0; i < hl; i++) {
    unsigned char ch = (unsigned char)url[h + i];
    if (ch <= 32 || ch >= 127 || ch == '%' || ch == '\\') return -1;
    host[i] = (char)lower(ch);
  }
  host[hl] = '\0';
  return kind;
}

int dh_host_is_loopback(const char *host) {
  size_t n = strlen(host);
  if (n > 0 && host[n - 1] == '.') n--; /* "localhost." is localhost too */
  if (ieq(host, n, "localhost") || ieq(host, n, "::1")) return 1;
  if (n > 10 && ieq(host + n - 10, 10, ".localhost")) return 1;
  /* strict dotted quad 127.a.b.c */
  int parts = 0;
  size_t i = 0;
  int first = -1;
  while (i < n) {
    int v = 0, digits = 0;
    while (i < n && is_digit((unsigned char)host[i]) && digits < 4) {
      v = v * 10 + (host[i] - '0');
      i++;
      digits++;
    }
    if (digits == 0 || digits > 3 || v > 255) return 0;
    if (parts == 0) first = v;
    parts++;
    if (i == n) break;
    if (host[i] != '.' || parts == 4) return 0;
    i++;
    if (i == n) return 0;
  }
  return parts == 4 && first == 127;
}

static const char *find_bytes(const char *h, size_t hl, const char *n, size_t nl) {
  if (nl == 0 || hl < nl) return NULL;
  for (size_t i = 0; i + nl <= hl; i++)
    if (h[i] == n[0] && memcmp(h + i, n, nl) == 0) return h + i;
  return NULL;
}

int dh_body_names_code(const char *body, size_t len, const char *code, size_t code_len) {
  static const char *const keys[] = {"\"code\"", "\"error_code\""};
  if (!body || !code || code_len == 0) return 0;
  for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
    size_t kl = strlen(keys[k]);
    const char *p = body, *end = body + len;
    while ((p = find_bytes(p, (size_t)(end - p), keys[k], kl)) != NULL) {
      const char *q = p + kl;
      p += kl;
      while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')) q++;
      if (q >= end || *q != ':') continue;
      q++;
      while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')) q++;
      if (q >= end || *q != '"') continue;
      q++;
      if ((size_t)(end - q) > code_len && memcmp(q, code, code_len) == 0 && q[code_len] == '"') return 1;
    }
  }
  return 0;
}

int dh_parse_lease_seconds(const char *duration_kind, const char *seconds) {
  if (duration_kind && strcmp(duration_kind, "infinite") == 0) return -1;
  if (!seconds) return 60;
  int n = 0;
  size_t i = 0;
  for (; seconds[i] >= '0' && seconds[i] <= '9' && i < 3; i++) n = n * 10 + (seconds[i] - '0');
  if (i == 0 || seconds[i] != '\0' || n < 15 || n > 60) return 60;
  return n;
}
