/* Levelled logging to stderr, shared by the log module and other C modules.
 * Lines are `ts=... level=... msg="..." k=v ...` or JSON (DRHOST_LOG_FORMAT=json).
 * Values of sensitive keys and secrets inside free text are redacted (dh_redact). */
#ifndef DH_LOG_H
#define DH_LOG_H
#include <stddef.h>
#include "dh_buf.h"

enum { DH_LOG_DEBUG = 10, DH_LOG_INFO = 20, DH_LOG_WARN = 30, DH_LOG_ERROR = 40, DH_LOG_OFF = 100 };

int dh_log_level(void);                /* current threshold (DRHOST_LOG, default info) */
void dh_log_set_level(int level);      /* overrides DRHOST_LOG (host's -v / -q) */
int dh_log_parse_level(const char *s); /* "debug"... -> level, -1 when unknown */
const char *dh_log_level_name(int level);
int dh_log_enabled(int level);
int dh_log_json(void); /* DRHOST_LOG_FORMAT=json */

/* True when a field named `key` holds a secret (token, secret, password, key, authorization,
 * assertion, sig, credential...). */
int dh_log_sensitive_key(const char *key, size_t len);
/* Appends `s` to out with secrets replaced by "[REDACTED]": Bearer/Basic/SharedKey credentials,
 * Authorization header values, sensitive query/form parameters (sig=, code=, client_secret=,
 * client_assertion=, *token*=, password=, *key*=) and sensitive JSON members. */
void dh_redact(const char *s, size_t len, dh_buf *out);

/* Writes one line: msg plus n key/value pairs (values redacted as above). */
void dh_log_write(int level, const char *msg, size_t n, const char *const *keys,
                  const char *const *values);
#endif
