/* The REPL: libedit line editing and history on a terminal, plain line reading otherwise.
 * Multi-line input (an incomplete chunk asks for more), `=expr` and bare expressions print their
 * values through drhost.pretty.show (row lists as aligned tables), `:...` lines go to
 * drhost.repl_helpers.command(line). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <editline/readline.h>

#include "dh_buf.h"
#include "host.h"
#include "lauxlib.h"
#include "lua.h"
#include "version.h"

#define PROMPT "drhost> "
#define PROMPT2 "   ...> "
#define EOFMARK "<eof>"

typedef struct repl {
  lua_State *L;
  int tty;
  int helpers; /* registry ref of drhost.repl_helpers, or LUA_NOREF when it failed to load */
  char history[4096];
} repl;

static volatile sig_atomic_t prompt_interrupted = 0;

static void on_prompt_sigint(int sig) {
  (void)sig;
  prompt_interrupted = 1;
}

/* One line without its newline, malloc'ed (caller frees), or NULL at end of input. On a terminal,
 * Ctrl-C at the prompt abandons the line (like a shell) instead of killing the REPL. */
static char *read_line(repl *r, const char *prompt) {
  if (r->tty) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_prompt_sigint;
    sigemptyset(&sa.sa_mask);
    for (;;) {
      prompt_interrupted = 0;
      sigaction(SIGINT, &sa, &old);
      char *line = readline(prompt);
      sigaction(SIGINT, &old, NULL);
      if (line || !prompt_interrupted) return line;
      printf("\n");
    }
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n = getline(&line, &cap, stdin);
  if (n < 0) {
    free(line);
    return NULL;
  }
  if (n > 0 && line[n - 1] == '\n') line[--n] = '\0';
  if (n > 0 && line[n - 1] == '\r') line[--n] = '\0';
  return line;
}

/* Is the load error on top of the stack "unexpected end of chunk"? */
static int incomplete(lua_State *L, int status) {
  if (status != LUA_ERRSYNTAX) return 0;
  size_t len;
  const char *msg = lua_tolstring(L, -1, &len);
  size_t ml = sizeof(EOFMARK) - 1;
  return msg && len >= ml && strcmp(msg + len - ml, EOFMARK) == 0;
}

/* Pushes the printer and the values to print, calls it; errors are reported, not raised. */
static void show_results(repl *r, int base) {
  lua_State *L = r->L;
  int n = lua_gettop(L) - base;
  if (n <= 0) return;
  lua_getglobal(L, "require");
  lua_pushliteral(L, "drhost.pretty");
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    dh_print_report(L);
    lua_settop(L, base);
    return;
  }
  for (int i = 1; i <= n; i++) {
    lua_getfield(L, -1, "show");
    lua_pushvalue(L, base + i);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
      fprintf(stderr, "(cannot print value: %s)\n", lua_tostring(L, -1));
    } else {
      const char *s = lua_tostring(L, -1);
      printf("%s\n", s ? s : "?");
    }
    lua_pop(L, 1);
  }
  fflush(stdout);
  lua_settop(L, base);
}

static void run_loaded(repl *r, int base) {
  int status = dh_docall(r->L, 0, LUA_MULTRET);
  if (status != LUA_OK) {
    dh_print_report(r->L);
    lua_settop(r->L, base);
    return;
  }
  show_results(r, base);
}

/* `:command args` -> the helpers' command(line), or the built-ins. Returns 1 to quit. */
static int colon_command(repl *r, const char *line) {
  lua_State *L = r->L;
  if (!strcmp(line, ":q") || !strcmp(line, ":quit") || !strcmp(line, ":exit")) return 1;
  int base = lua_gettop(L);
  if (r->helpers != LUA_NOREF) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->helpers);
    if (lua_getfield(L, -1, "command") == LUA_TFUNCTION) {
      lua_remove(L, -2);
      lua_pushstring(L, line);
      int status = dh_docall(L, 1, LUA_MULTRET);
      if (status != LUA_OK) {
        dh_print_report(L);
        lua_settop(L, base);
      } else {
        show_results(r, base);
      }
      return 0;
    }
    lua_settop(L, base);
  }
  if (!strcmp(line, ":help") || !strcmp(line, ":h")) {
    printf("Lua 5.4 with drhost modules (json, crypto, log, http, ...).\n"
           "  =expr or expr   print the value (row lists print as tables)\n"
           "  :q              quit\n");
  } else {
    fprintf(stderr, "unknown command %s (the REPL helpers are not loaded; :help)\n", line);
  }
  return 0;
}

static void add_history_entry(repl *r, const char *chunk) {
  if (!r->tty || !*chunk) return;
  add_history(chunk);
  /* libedit's append_history is unreliable; rewrite the (stifled, small) file instead. */
  if (r->history[0]) write_history(r->history);
}

/* The embedded helpers (host/lua/repl_helpers.lua): install(globals) puts sql, uc and api into the
 * globals; command(line) runs the `:` lines. A failure to load them is reported and the REPL goes
 * on with the built-ins. */
static void load_helpers(repl *r) {
  lua_State *L = r->L;
  r->helpers = LUA_NOREF;
  lua_getglobal(L, "require");
  lua_pushliteral(L, "drhost.repl_helpers");
  if (dh_docall(L, 1, 1) != LUA_OK) {
    fprintf(stderr, "drhost: REPL helpers not loaded:\n");
    dh_print_report(L);
    return;
  }
  lua_getfield(L, -1, "install");
  lua_pushglobaltable(L);
  if (dh_docall(L, 1, 0) != LUA_OK) dh_print_report(L);
  r->helpers = luaL_ref(L, LUA_REGISTRYINDEX);
}

int dh_repl(lua_State *L) {
  repl r;
  memset(&r, 0, sizeof r);
  r.L = L;
  r.tty = isatty(0) && isatty(1);
  if (r.tty) {
    const char *h = getenv("DRHOST_HISTORY");
    const char *home = getenv("HOME");
    if (h && *h) snprintf(r.history, sizeof r.history, "%s", h);
    else if (home && *home) snprintf(r.history, sizeof r.history, "%s/.drhost_history", home);
    using_history();
    stifle_history(1000);
    if (r.history[0]) {
      read_history(r.history); /* absent on first use */
    }
    printf("drhost %s (%s) - :help for help, :q or Ctrl-D to quit\n", DRHOST_VERSION, LUA_RELEASE);
  }
  dh_set_brief_reports(1);
  load_helpers(&r);
  dh_buf chunk;
  dh_buf_init(&chunk);
  char *line;
  while ((line = read_line(&r, PROMPT)) != NULL) {
    const char *p = line;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '\0') {
      free(line);
      continue;
    }
    if (*p == ':' && p[1] != ':') {
      add_history_entry(&r, p);
      int quit = colon_command(&r, p);
      free(line);
      if (quit) break;
      continue;
    }
    dh_buf_reset(&chunk);
    dh_buf_adds(&chunk, *p == '=' ? p + 1 : p);
    free(line);
    int base = lua_gettop(L);
    int status;
    for (;;) {
      /* First as an expression (to print it), then as statements. */
      lua_pushfstring(L, "return %s;", chunk.data ? chunk.data : "");
      status = luaL_loadbuffer(L, lua_tostring(L, -1), lua_rawlen(L, -1), "=stdin");
      lua_remove(L, -2);
      if (status == LUA_OK) break;
      lua_pop(L, 1);
      status = luaL_loadbuffer(L, chunk.data ? chunk.data : "", chunk.len, "=stdin");
      if (!incomplete(L, status)) break;
      lua_pop(L, 1);
      char *more = read_line(&r, PROMPT2);
      if (!more) break;
      dh_buf_addc(&chunk, '\n');
      dh_buf_adds(&chunk, more);
      free(more);
    }
    if (chunk.oom) {
      fprintf(stderr, "drhost: out of memory reading input\n");
      break;
    }
    add_history_entry(&r, chunk.data ? chunk.data : "");
    if (lua_gettop(L) == base) { /* input ended inside an incomplete chunk */
      fprintf(stderr, "drhost: incomplete input at end of file\n");
      break;
    }
    if (status != LUA_OK) {
      fprintf(stderr, "drhost: %s\n", lua_tostring(L, -1));
      lua_settop(L, base);
      continue;
    }
    run_loaded(&r, base);
  }
  dh_buf_free(&chunk);
  if (r.tty) printf("\n");
  if (r.helpers != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, r.helpers);
  dh_set_brief_reports(0);
  return 0;
}
