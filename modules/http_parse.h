/* Pure parsers used by the http and blobstate modules (no Lua, no curl): they are fuzzed on their
 * own by spec/fuzz/fuzz_http_*.c and spec/fuzz/fuzz_blob_*.c. */
#ifndef DH_HTTP_PARSE_H
#define DH_HTTP_PARSE_H

#include <stddef.h>
#include <time.h>

/* Retry-After (RFC 9110 10.2.3): delta-seconds or an HTTP-date (IMF-fixdate, or the obsolete
 * RFC 850 and asctime forms). On success stores the delay in seconds from `now` (0 when the date is
 * in the past; delta-seconds saturate at 2^31-1) and returns 0; returns -1 when the value is
 * neither. */
int dh_parse_retry_after(const char *s, size_t len, time_t now, double *delay);

/* 1 when a JSON response body names `code` (len code_len) as the string value of a "code" or
 * "error_code" member anywhere in it (ARM's {"error": {"code": ...}}, Databricks' {"error_code":
 * ...}); 0 otherwise. A plain scan, no JSON parse: a body that is not JSON simply does not match. */
int dh_body_names_code(const char *body, size_t len, const char *code, size_t code_len);

/* Parses an HTTP-date into a UTC time_t; 0 on success, -1 otherwise. */
int dh_parse_http_date(const char *s, size_t len, time_t *out);

/* One response header line ("Name: value\r\n"). On success points name/value into the line
 * (value trimmed of surrounding blanks and the line end) and returns 0; returns 1 for a status line
 * ("HTTP/..."), 2 for the blank line ending the headers and -1 for anything else (ignored). */
int dh_parse_header_line(const char *line, size_t len, const char **name, size_t *name_len,
                         const char **value, size_t *value_len);

/* 1 when a header name (any case) carries a credential and must not be logged. */
int dh_header_is_secret(const char *name, size_t len);

/* 1 when a query/form key (any case) names a secret (sig, code, client_secret, client_assertion,
 * token, access_token, refresh_token, password, key, ...). */
int dh_param_is_secret(const char *key, size_t len);

/* Copies `s` into out (NUL-terminated, at most out_size-1 bytes, truncated with "...") with the
 * values of secret query/form parameters replaced by "REDACTED". Handles both a full URL (only the
 * part after '?' is rewritten; any fragment is dropped) and a bare form body. Returns the length
 * written. */
size_t dh_redact_params(const char *s, size_t len, int is_url, char *out, size_t out_size);

/* URL policy. Fills the host (lower-cased, without brackets or port) of an http(s) URL.
 * Returns 0 for https, 1 for http, -1 for an unsupported scheme or a malformed URL. */
int dh_url_scheme_host(const char *url, size_t len, char *host, size_t host_size);

/* 1 when host is loopback: 127.0.0.0/8, ::1, localhost or *.localhost. */
int dh_host_is_loopback(const char *host);

/* How long a blob lease seen now can outlast a holder that died, from the blob's x-ms-lease-duration
 * header ("infinite" or "fixed"; may be NULL) and the holder's x-ms-meta-leaseseconds metadata (the
 * lease's length, may be NULL): the length when it is a number 15..60, -1 for an infinite lease,
 * else 60 (the longest fixed lease Azure grants). */
int dh_parse_lease_seconds(const char *duration_kind, const char *seconds);

#endif
