/* Uncaught errors: the message handler builds the report printed by the host:
 *   drhost: FILE:LINE: CODE: message
 *     status: ...   target: ...   details: ... (other fields of the structured error)
 *   stack traceback: ... */
#include <stdio.h>
#include <string.h>

#include "dh_error.h"
#include "dh_signal.h"
#include "host.h"
#include "lauxlib.h"
#include "lua.h"

static int last_cancelled = 0;

int dh_last_error_cancelled(void) { return last_cancelled; }
void dh_clear_last_error(void) { last_cancelled = 0; }

/* Formats a structured error (at index 1) with drhost.pretty.error_report, in protected mode. */
static int format_error_table(lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "drhost.pretty");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "error_report");
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  return 1;
}

int dh_msghandler(lua_State *L) {
  lua_sethook(L, NULL, 0, 0); /* a pending cancel hook must not fire inside the handler */
  int is_table = lua_type(L, 1) == LUA_TTABLE;
  if (is_table) {
    lua_getfield(L, 1, "code");
    last_cancelled = lua_isstring(L, -1) && strcmp(lua_tostring(L, -1), "CANCELLED") == 0;
    lua_pop(L, 1);
  } else {
    last_cancelled = dh_cancelled();
  }
  const char *msg = NULL;
  if (is_table) {
    lua_pushcfunction(L, format_error_table);
    lua_pushvalue(L, 1);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK && lua_isstring(L, -1)) msg = lua_tostring(L, -1);
    else lua_pop(L, 1);
  }
  if (!msg) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) msg = lua_tostring(L, -1);
    else if (lua_type(L, 1) == LUA_TSTRING) msg = lua_tostring(L, 1);
    else msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  lua_pushfstring(L, "drhost: %s", lua_tostring(L, -1));
  return 1;
}

int dh_docall(lua_State *L, int nargs, int nres) {
  int base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, dh_msghandler);
  lua_insert(L, base);
  dh_clear_last_error();
  dh_signals_arm(L);
  int status = lua_pcall(L, nargs, nres, base);
  dh_signals_disarm();
  lua_sethook(L, NULL, 0, 0);
  lua_remove(L, base);
  return status;
}

void dh_print_report(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  fprintf(stderr, "%s\n", msg ? msg : "drhost: (error without a message)");
  fflush(stderr);
  lua_pop(L, 1);
}
