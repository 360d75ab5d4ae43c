/* Structured errors (docs/architecture.md, "Errors").
 * An error is a table {code=, message=, where=, status=, target=, details=} with the metatable
 * registered as "drhost.error" (tostring gives "code: message"). */
#ifndef DH_ERROR_H
#define DH_ERROR_H
#include "lua.h"

#define DH_ERROR_MT "drhost.error"

/* Raises {code=code, message=printf(fmt, ...), where="file:line"}; never returns. */
int dh_raise(lua_State *L, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Pushes a new error table (not raised) and returns its absolute stack index, so the caller can
 * set more fields (status, target, details...) before dh_raise_table. */
int dh_error_push(lua_State *L, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Raises the table at idx as a structured error: sets the metatable and `where` when missing. */
int dh_raise_table(lua_State *L, int idx);
/* Pushes the drhost.error metatable (creating it on first use). */
void dh_error_metatable(lua_State *L);
/* True when the value at idx is a structured error (has the drhost.error metatable). */
int dh_is_error(lua_State *L, int idx);

/* Argument checks that raise {code="BAD_ARGUMENT", argument=N} instead of Lua's string errors:
 * "bad argument #N to 'f' (a string expected, got nil)". */
int dh_argerror(lua_State *L, int arg, const char *expected);
const char *dh_checklstring(lua_State *L, int arg, size_t *len); /* numbers are converted */
lua_Integer dh_checkinteger(lua_State *L, int arg);
void dh_checktable(lua_State *L, int arg);
void dh_checkany(lua_State *L, int arg);
#endif
