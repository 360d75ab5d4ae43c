/* Structured errors (docs/host.md, "Errors"): the one C helper that raises errors.
 * An error is a table {code=, message=, where=, status=, target=, details=} with the metatable
 * registered as "drhost.error" (tostring gives "code: message"). Messages are formatted with
 * vsnprintf, so every printf conversion works. */
#ifndef DH_ERROR_H
#define DH_ERROR_H
#include "lua.h"

#define DH_ERROR_MT "drhost.error"

/* Raises {code=code, message=printf(fmt, ...), where="file:line"}; never returns. */
__attribute__((noreturn, format(printf, 3, 4))) int dh_raise(lua_State *L, const char *code, const char *fmt,
                                                             ...);
/* The same with status=status (an HTTP status; 0 leaves the field out). */
__attribute__((noreturn, format(printf, 4, 5))) int dh_raise_status(lua_State *L, const char *code, long status,
                                                                    const char *fmt, ...);
/* Pushes a new error table (not raised) and returns its absolute stack index, so the caller can
 * set more fields (status, target, details...) before dh_raise_table. */
int dh_error_push(lua_State *L, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Raises the table at idx as a structured error: sets the metatable and `where` when missing. */
__attribute__((noreturn)) int dh_raise_table(lua_State *L, int idx);
/* Pushes the drhost.error metatable (creating it on first use). */
void dh_error_metatable(lua_State *L);
/* True when the value at idx is a structured error (has the drhost.error metatable). */
int dh_is_error(lua_State *L, int idx);

/* Argument checks in the style of luaL_argerror, raising
 * {code="BAD_ARGUMENT", argument=N, message="bad argument #N to 'mod.f' (a string expected, got nil)"}
 * instead of Lua's string errors. Use them in every module, never bare luaL_check*. */
__attribute__((noreturn)) int dh_argerror(lua_State *L, int arg, const char *expected);
const char *dh_checklstring(lua_State *L, int arg, size_t *len); /* numbers are converted */
#define dh_checkstring(L, arg) dh_checklstring((L), (arg), NULL)
lua_Integer dh_checkinteger(lua_State *L, int arg);
lua_Number dh_checknumber(lua_State *L, int arg);
void dh_checktable(lua_State *L, int arg);
void dh_checkany(lua_State *L, int arg);
/* The userdata at arg when its metatable is tname's; `expected` names it ("a blobstate store"). */
void *dh_checkudata(lua_State *L, int arg, const char *tname, const char *expected);
/* Grows the stack by n slots or raises {code="TOO_DEEP", message=what}. */
void dh_checkstack(lua_State *L, int n, const char *what);
#endif
