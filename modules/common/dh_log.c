#include "dh_log.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int log_level = -1; /* -1: not decided yet (read DRHOST_LOG) */

int dh_log_parse_level(const char *s) {
  if (!s) return -1;
  if (!strcasecmp(s, "debug") || !strcasecmp(s, "trace")) return DH_LOG_DEBUG;
  if (!strcasecmp(s, "info")) return DH_LOG_INFO;
  if (!strcasecmp(s, "warn") || !strcasecmp(s, "warning")) return DH_LOG_WARN;
  if (!strcasecmp(s, "error")) return DH_LOG_ERROR;
  if (!strcasecmp(s, "off") || !strcasecmp(s, "none")) return DH_LOG_OFF;
  return -1;
}

const char *dh_log_level_name(int level) {
  if (level <= DH_LOG_DEBUG) return "debug";
  if (level <= DH_LOG_INFO) return "info";
  if (level <= DH_LOG_WARN) return "warn";
  if (level <= DH_LOG_ERROR) return "error";
  return "off";
}

int dh_log_level(void) {
  if (log_level < 0) {
    int l = dh_log_parse_level(getenv("DRHOST_LOG"));
    log_level = l < 0 ? DH_LOG_INFO : l;
  }
  return log_level;
}

void dh_log_set_level(int level) { log_level = level; }

int dh_log_enabled(int level) { return level >= dh_log_level(); }

int dh_log_json(void) {
  const char *f = getenv("DRHOST_LOG_FORMAT");
  return f && !strcasecmp(f, "json");
}

static int has_ci(const char *s, size_t len, const char *needle) {
  size_t n = strlen(needle);
  if (n > len) return 0;
  for (size_t i = 0; i + n <= len; i++)
    if (!strncasecmp(s + i, needle, n)) return 1;
  return 0;
}

static int eq_ci(const char *s, size_t len, const char *word) {
  return strlen(word) == len && !strncasecmp(s, word, len);
}

int dh_log_sensitive_key(const char *key, size_t len) {
  static const char *const parts[] = {"token",     "secret",     "password",   "passwd",
                                      "authorization", "assertion", "credential", "key",
                                      "signature", "cookie",     NULL};
  for (int i = 0; parts[i]; i++)
    if (has_ci(key, len, parts[i])) return 1;
  return eq_ci(key, len, "sig") || eq_ci(key, len, "pwd");
}

/* Query-string parameters are more sensitive than log field names (an OAuth `code`). */
static int sensitive_param(const char *key, size_t len) {
  return dh_log_sensitive_key(key, len) || eq_ci(key, len, "code");
}

static int is_keych(unsigned char c) { return isalnum(c) || c == '_' || c == '-' || c == '.'; }

static const char REDACTED[] = "[REDACTED]";

/* Length of a credential token starting at s (up to whitespace, quote, comma, ampersand). */
static size_t token_len(const char *s, size_t len, int allow_space) {
  size_t i = 0;
  while (i < len) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\'' || c == '\n' || c == '\r' || c == ',' || c == '&' || c == ';')
      break;
    if (!allow_space && (c == ' ' || c == '\t')) break;
    i++;
  }
  return i;
}

/* Length of a JSON string body starting after its opening quote (up to the closing quote). */
static size_t json_string_len(const char *s, size_t len) {
  size_t i = 0;
  while (i < len && s[i] != '"') {
    if (s[i] == '\\' && i + 1 < len) i++;
    i++;
  }
  return i;
}

void dh_redact(const char *s, size_t len, dh_buf *out) {
  static const char *const schemes[] = {"bearer ", "basic ", "sharedkey ", "sharedkeylite ", NULL};
  size_t i = 0;
  while (i < len) {
    unsigned char c = (unsigned char)s[i];
    int word_start = (i == 0) || !is_keych((unsigned char)s[i - 1]);
    if (word_start && isalpha(c)) {
      /* Authorization schemes: "Bearer xyz" -> "Bearer [REDACTED]". */
      int matched = 0;
      for (int k = 0; schemes[k]; k++) {
        size_t n = strlen(schemes[k]);
        if (i + n <= len && !strncasecmp(s + i, schemes[k], n)) {
          size_t t = token_len(s + i + n, len - i - n, 0);
          if (t > 0) {
            dh_buf_add(out, s + i, n);
            dh_buf_adds(out, REDACTED);
            i += n + t;
            matched = 1;
          }
          break;
        }
      }
      if (matched) continue;
      /* A key: the word, then `=` (query, form, key=value) or `":` (JSON) or `: ` (header). */
      size_t k = i;
      while (k < len && is_keych((unsigned char)s[k])) k++;
      size_t klen = k - i;
      int quoted = i > 0 && s[i - 1] == '"' && k < len && s[k] == '"';
      size_t sep = quoted ? k + 1 : k;
      while (sep < len && (s[sep] == ' ' || s[sep] == '\t')) sep++;
      if (sep < len && (s[sep] == '=' || s[sep] == ':')) {
        int in_query = i > 0 && (s[i - 1] == '?' || s[i - 1] == '&');
        int sensitive = in_query ? sensitive_param(s + i, klen) : dh_log_sensitive_key(s + i, klen);
        /* "key: value" headers other than Authorization are left alone unless JSON-quoted. */
        if (sensitive && s[sep] == ':' && !quoted && !eq_ci(s + i, klen, "authorization") &&
            !has_ci(s + i, klen, "token") && !has_ci(s + i, klen, "secret"))
          sensitive = 0;
        if (sensitive) {
          size_t v = sep + 1;
          while (v < len && (s[v] == ' ' || s[v] == '\t')) v++;
          dh_buf_add(out, s + i, v - i);
          if (v < len && s[v] == '"') {
            size_t body = json_string_len(s + v + 1, len - v - 1);
            dh_buf_addc(out, '"');
            dh_buf_adds(out, REDACTED);
            i = v + 1 + body; /* the closing quote is copied by the main loop */
          } else {
            /* Header values and Authorization values run to the end of the line. */
            int header = (s[sep] == ':' && !quoted) || eq_ci(s + i, klen, "authorization");
            size_t t = token_len(s + v, len - v, header);
            if (!header && quoted) {
              while (t > 0 && (s[v + t - 1] == '}' || s[v + t - 1] == ']')) t--;
            }
            dh_buf_adds(out, REDACTED);
            i = v + t;
          }
          continue;
        }
      }
      dh_buf_add(out, s + i, klen);
      i = k;
      continue;
    }
    dh_buf_addc(out, (char)c);
    i++;
  }
}

static void add_json_string(dh_buf *b, const char *s, size_t len) {
  dh_buf_addc(b, '"');
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    switch (c) {
      case '"': dh_buf_adds(b, "\\\""); break;
      case '\\': dh_buf_adds(b, "\\\\"); break;
      case '\n': dh_buf_adds(b, "\\n"); break;
      case '\r': dh_buf_adds(b, "\\r"); break;
      case '\t': dh_buf_adds(b, "\\t"); break;
      default:
        if (c < 0x20) dh_buf_addf(b, "\\u%04x", c);
        else dh_buf_addc(b, (char)c);
    }
  }
  dh_buf_addc(b, '"');
}

static int needs_quotes(const char *s, size_t len) {
  if (len == 0) return 1;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f) return 1;
  }
  return 0;
}

static void add_value(dh_buf *b, const char *s, size_t len, int json) {
  if (json || needs_quotes(s, len)) add_json_string(b, s, len);
  else dh_buf_add(b, s, len);
}

void dh_log_write(int level, const char *msg, size_t n, const char *const *keys,
                  const char *const *values) {
  if (!dh_log_enabled(level)) return;
  int json = dh_log_json();
  dh_buf line, red;
  dh_buf_init(&line);
  dh_buf_init(&red);
  char ts[40];
  struct timespec now;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &now);
  gmtime_r(&now.tv_sec, &tm);
  size_t tl = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(ts + tl, sizeof ts - tl, ".%03ldZ", (long)(now.tv_nsec / 1000000));
  const char *lv = dh_log_level_name(level);
  dh_redact(msg ? msg : "", msg ? strlen(msg) : 0, &red);
  if (json) {
    dh_buf_addf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, lv);
    add_json_string(&line, red.data ? red.data : "", red.len);
  } else {
    dh_buf_addf(&line, "ts=%s level=%s msg=", ts, lv);
    add_value(&line, red.data ? red.data : "", red.len, 1);
  }
  for (size_t i = 0; i < n; i++) {
    const char *k = keys[i] ? keys[i] : "?";
    const char *v = values[i] ? values[i] : "";
    size_t kl = strlen(k);
    dh_buf_reset(&red);
    if (dh_log_sensitive_key(k, kl)) dh_buf_adds(&red, REDACTED);
    else dh_redact(v, strlen(v), &red);
    if (json) {
      dh_buf_addc(&line, ',');
      add_json_string(&line, k, kl);
      dh_buf_addc(&line, ':');
    } else {
      dh_buf_addc(&line, ' ');
      dh_buf_add(&line, k, kl);
      dh_buf_addc(&line, '=');
    }
    add_value(&line, red.data ? red.data : "", red.len, json);
  }
  if (json) dh_buf_addc(&line, '}');
  dh_buf_addc(&line, '\n');
  if (!line.oom) {
    fwrite(line.data, 1, line.len, stderr);
    fflush(stderr);
  }
  dh_buf_free(&line);
  dh_buf_free(&red);
}
