#include "dh_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lauxlib.h"

static int error_tostring(lua_State *L) {
  lua_getfield(L, 1, "code");
  lua_getfield(L, 1, "message");
  const char *code = lua_tostring(L, -2);
  const char *msg = lua_tostring(L, -1);
  lua_pushfstring(L, "%s: %s", code ? code : "ERROR", msg ? msg : "(no message)");
  return 1;
}

void dh_error_metatable(lua_State *L) {
  if (luaL_newmetatable(L, DH_ERROR_MT)) {
    lua_pushcfunction(L, error_tostring);
    lua_setfield(L, -2, "__tostring");
  }
}

int dh_is_error(lua_State *L, int idx) {
  if (!lua_istable(L, idx) || !lua_getmetatable(L, idx)) return 0;
  luaL_getmetatable(L, DH_ERROR_MT);
  int same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return same;
}

/* Sets t.where to the position of the innermost Lua function on the call stack. */
static void set_where(lua_State *L, int idx) {
  lua_Debug ar;
  for (int level = 0; lua_getstack(L, level, &ar); level++) { /* C levels have no line */
    if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
      lua_pushfstring(L, "%s:%d", ar.short_src, ar.currentline);
      lua_setfield(L, idx, "where");
      return;
    }
  }
}

/* Pushes the formatted message; long ones go through a userdata buffer (freed by the GC, so a
 * memory error cannot leak it). */
static void push_vformat(lua_State *L, const char *fmt, va_list ap) {
  char small[512];
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  if (n < 0) {
    va_end(ap2);
    lua_pushstring(L, fmt);
    return;
  }
  if ((size_t)n < sizeof small) {
    va_end(ap2);
    lua_pushlstring(L, small, (size_t)n);
    return;
  }
  char *big = lua_newuserdatauv(L, (size_t)n + 1, 0);
  vsnprintf(big, (size_t)n + 1, fmt, ap2);
  va_end(ap2);
  lua_pushlstring(L, big, (size_t)n);
  lua_remove(L, -2);
}

static int error_pushv(lua_State *L, const char *code, const char *fmt, va_list ap) {
  lua_createtable(L, 0, 4);
  int idx = lua_gettop(L);
  lua_pushstring(L, code);
  lua_setfield(L, idx, "code");
  push_vformat(L, fmt, ap);
  lua_setfield(L, idx, "message");
  set_where(L, idx);
  dh_error_metatable(L);
  lua_setmetatable(L, idx);
  return idx;
}

int dh_error_push(lua_State *L, const char *code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int idx = error_pushv(L, code, fmt, ap);
  va_end(ap);
  return idx;
}

int dh_raise(lua_State *L, const char *code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int idx = error_pushv(L, code, fmt, ap);
  va_end(ap);
  dh_raise_table(L, idx);
}

int dh_raise_status(lua_State *L, const char *code, long status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int idx = error_pushv(L, code, fmt, ap);
  va_end(ap);
  if (status) {
    lua_pushinteger(L, status);
    lua_setfield(L, idx, "status");
  }
  dh_raise_table(L, idx);
}

int dh_raise_table(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  if (lua_getfield(L, idx, "where") == LUA_TNIL) set_where(L, idx);
  lua_pop(L, 1);
  if (!dh_is_error(L, idx)) {
    dh_error_metatable(L);
    lua_setmetatable(L, idx);
  }
  lua_pushvalue(L, idx);
  lua_error(L);
  __builtin_unreachable(); /* lua_error longjmps */
}

/* Pushes "module.name" for the running C function when a loaded module holds it, else the
 * name the caller used, else "?". */
static const char *push_function_name(lua_State *L) {
  lua_Debug ar;
  if (!lua_getstack(L, 0, &ar) || !lua_getinfo(L, "nf", &ar)) return lua_pushliteral(L, "?");
  int fn = lua_gettop(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    if (lua_type(L, -2) == LUA_TSTRING && lua_istable(L, -1)) {
      lua_pushnil(L);
      while (lua_next(L, -2)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_rawequal(L, -1, fn)) {
          const char *name = lua_pushfstring(L, "%s.%s", lua_tostring(L, -4), lua_tostring(L, -2));
          lua_replace(L, fn);
          lua_settop(L, fn);
          return name;
        }
        lua_pop(L, 1);
      }
    }
    lua_pop(L, 1);
  }
  lua_settop(L, fn - 1);
  return lua_pushstring(L, ar.name ? ar.name : "?");
}

int dh_argerror(lua_State *L, int arg, const char *expected) {
  const char *got = luaL_typename(L, arg); /* before pushing anything: arg may be absent */
  const char *fname = push_function_name(L);
  int e = dh_error_push(L, "BAD_ARGUMENT", "bad argument #%d to '%s' (%s expected, got %s)", arg, fname,
                        expected, got);
  lua_pushinteger(L, arg);
  lua_setfield(L, e, "argument");
  lua_pushstring(L, fname);
  lua_setfield(L, e, "function");
  dh_raise_table(L, e);
}

const char *dh_checklstring(lua_State *L, int arg, size_t *len) {
  const char *s = lua_isstring(L, arg) ? lua_tolstring(L, arg, len) : NULL;
  if (!s) dh_argerror(L, arg, "a string");
  return s;
}

lua_Integer dh_checkinteger(lua_State *L, int arg) {
  int isnum = 0;
  lua_Integer n = lua_tointegerx(L, arg, &isnum);
  if (!isnum) dh_argerror(L, arg, "an integer");
  return n;
}

lua_Number dh_checknumber(lua_State *L, int arg) {
  int isnum = 0;
  lua_Number n = lua_tonumberx(L, arg, &isnum);
  if (!isnum) dh_argerror(L, arg, "a number");
  return n;
}

void dh_checktable(lua_State *L, int arg) {
  if (!lua_istable(L, arg)) dh_argerror(L, arg, "a table");
}

void dh_checkany(lua_State *L, int arg) {
  if (lua_type(L, arg) == LUA_TNONE) dh_argerror(L, arg, "a value");
}

void *dh_checkudata(lua_State *L, int arg, const char *tname, const char *expected) {
  void *p = luaL_testudata(L, arg, tname);
  if (!p) dh_argerror(L, arg, expected);
  return p;
}

void dh_checkstack(lua_State *L, int n, const char *what) {
  if (!lua_checkstack(L, n)) dh_raise(L, "TOO_DEEP", "%s", what);
}
