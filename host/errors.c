/* Uncaught errors: the message handler builds the report the host prints, with
 * errors.report (modules/errors.lua), the one place errors are formatted:
 *   drhost: CODE: message              a user error (config, usage, ...): the user's file and key,
 *     file: ...   key: ...             no source positions, no traceback (unless -v)
 *   drhost: FILE:LINE: CODE: message   any other error: its fields, then the traceback
 *     status: ...   details: ...
 *   stack traceback: ...
 * In the REPL (brief reports) any other error is one line, "drhost: CODE: message (HTTP status)";
 * -v gives the full report there too. */
#include <stdio.h>
#include <string.h>

#include "dh_error.h"
#include "dh_signal.h"
#include "host.h"
#include "lauxlib.h"
#include "lua.h"

static int last_status = 0;
static int brief_reports = 0;

int dh_last_error_status(void) { return last_status; }
void dh_clear_last_error(void) { last_status = 0; }
void dh_set_brief_reports(int on) { brief_reports = on; }

/* errors.report(e, verbose, brief) and errors.is_user(e) for the value at index 1, in protected mode. */
static int format_error_table(lua_State *L) {
  int verbose = (int)lua_toboolean(L, 2);
  int brief = (int)lua_toboolean(L, 3);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "errors");
  lua_call(L, 1, 1);
  int m = lua_gettop(L);
  lua_getfield(L, m, "report");
  lua_pushvalue(L, 1);
  lua_pushboolean(L, verbose);
  lua_pushboolean(L, brief);
  lua_call(L, 3, 1);
  lua_getfield(L, m, "is_user");
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  return 2;
}

static int code_is(lua_State *L, int idx, const char *code) {
  if (lua_type(L, idx) != LUA_TTABLE) return 0;
  lua_getfield(L, idx, "code");
  int same = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), code) == 0;
  lua_pop(L, 1);
  return same;
}

int dh_msghandler(lua_State *L) {
  lua_sethook(L, NULL, 0, 0); /* the cancel hook must not fire inside the handler */
  int is_table = lua_type(L, 1) == LUA_TTABLE;
  if (code_is(L, 1, "CANCELLED") || (!is_table && dh_cancelled())) last_status = 130;
  else if (code_is(L, 1, "USAGE")) last_status = 2;
  else last_status = 1;
  int verbose = dh_host_verbose();
  const char *msg = NULL;
  int brief = 0;
  if (is_table) {
    lua_pushcfunction(L, format_error_table);
    lua_pushvalue(L, 1);
    lua_pushboolean(L, verbose);
    lua_pushboolean(L, brief_reports);
    if (lua_pcall(L, 3, 2, 0) == LUA_OK && lua_isstring(L, -2)) {
      brief = lua_toboolean(L, -1) && !verbose;
      lua_pop(L, 1);
      msg = lua_tostring(L, -1);
    } else {
      lua_pop(L, 1);
    }
    /* in the REPL, structured errors print without their position and traceback (unless -v) */
    if (brief_reports && !verbose) brief = 1;
  }
  if (!msg) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) msg = lua_tostring(L, -1);
    else if (lua_type(L, 1) == LUA_TSTRING) msg = lua_tostring(L, 1);
    else msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  if (brief) {
    lua_pushfstring(L, "drhost: %s", msg);
    return 1;
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
  if (status != LUA_OK && last_status == 130) dh_run_cancel_cleanups(L);
  return status;
}

void dh_print_report(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  fprintf(stderr, "%s\n", msg ? msg : "drhost: (error without a message)");
  fflush(stderr);
  lua_pop(L, 1);
}
