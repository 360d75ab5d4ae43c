/* SIGINT: set the cancel flag modules poll (dh_cancelled) and, like lua.c, interrupt running Lua
 * code with a hook that raises {code="CANCELLED"}. The hook re-arms itself (it stays installed
 * after raising), so once cancelled every later Lua step raises CANCELLED again: a `pcall` cannot
 * swallow the cancellation, the error reaches the host, which then runs the cleanups registered
 * with errors.on_cancel (cancelling a running SQL statement, ...) and exits 130. A second SIGINT
 * before the first is handled terminates the process with the default action. */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "dh_error.h"
#include "dh_signal.h"
#include "host.h"
#include "lua.h"

#define CLEANUPS_KEY "drhost.cancel_cleanups"

static lua_State *volatile armed_L = NULL;

static void cancel_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  dh_raise(L, "CANCELLED", "interrupted by SIGINT");
}

static void on_sigint(int sig) {
  if (dh_cancelled()) { /* second Ctrl-C: stop now */
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
  dh_set_cancelled(1);
  lua_State *L = armed_L;
  /* A C wait in progress sees the flag and raises CANCELLED itself; the hook then catches the
   * Lua code that would carry on after a pcall. */
  if (L) lua_sethook(L, cancel_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

void dh_signals_arm(lua_State *L) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: blocking waits see EINTR and can check the flag */
  dh_set_cancelled(0);
  armed_L = L;
  sigaction(SIGINT, &sa, NULL);
}

void dh_signals_disarm(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  armed_L = NULL;
}

void dh_run_cancel_cleanups(lua_State *L) {
  lua_sethook(L, NULL, 0, 0);
  dh_set_cancelled(0); /* the cleanups make requests of their own */
  if (lua_getfield(L, LUA_REGISTRYINDEX, CLEANUPS_KEY) != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  int t = lua_gettop(L);
  lua_newtable(L); /* the functions, taken out of the registry table first */
  int list = t + 1;
  lua_Integer n = 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    if (lua_type(L, -1) == LUA_TFUNCTION) {
      lua_rawseti(L, list, ++n);
    } else {
      lua_pop(L, 1);
    }
  }
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, CLEANUPS_KEY);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, list, i);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
      lua_getglobal(L, "tostring");
      lua_insert(L, -2);
      const char *msg = lua_pcall(L, 1, 1, 0) == LUA_OK ? lua_tostring(L, -1) : NULL;
      fprintf(stderr, "drhost: cleanup after SIGINT failed: %s\n", msg ? msg : "(no message)");
      lua_pop(L, 1);
    }
  }
  lua_settop(L, t - 1);
}
