/* Pre-scan of JSON text before lua-cjson 2.1.0 decodes it (see modules/json.c):
 *  - integer literals whose magnitude exceeds 2^53 are quoted, so they decode to exact strings;
 *  - empty arrays `[ ]` become `[DH_JSON_EMPTY_MARK]`, so the decoder can tell them from `{}`.
 * Text inside strings is copied unchanged; invalid JSON is passed through for cjson to reject. */
#ifndef DH_JSONSCAN_H
#define DH_JSONSCAN_H
#include <stddef.h>
#include "dh_buf.h"

/* The marker as decoded (a Lua string) and as written into the JSON text. */
#define DH_JSON_EMPTY_MARK "\001drhost:empty-array"
#define DH_JSON_EMPTY_MARK_JSON "\"\\u0001drhost:empty-array\""

/* Appends the rewritten text to out; returns the number of rewrites (0: text unchanged). */
size_t dh_json_prescan(const char *s, size_t len, dh_buf *out);
#endif
