/* SIGINT: set the cancel flag modules poll (dh_cancelled) and, like lua.c, interrupt running Lua
 * code with a hook that raises {code="CANCELLED"}. A second SIGINT before the first is handled
 * terminates the process with the default action. */
#include <signal.h>
#include <stddef.h>
#include <string.h>

#include "dh_error.h"
#include "dh_signal.h"
#include "host.h"
#include "lua.h"

static lua_State *volatile armed_L = NULL;

static void cancel_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
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
  /* During a bracketed C wait the waiting code raises CANCELLED itself. */
  if (L && !dh_waiting()) lua_sethook(L, cancel_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
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
