/* drhost: the command line, the Lua state, module search and the script runner.
 *   drhost [options] [SCRIPT [args...]]
 *   -e CODE   run CODE (may be repeated; no REPL afterwards unless -i)
 *   -i        enter the REPL after running SCRIPT / -e
 *   -v / -q   log level debug (and full error reports) / error (overrides DRHOST_LOG)
 *   --version, -h/--help, -- (end of options), - (script from stdin) */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dh_error.h"
#include "dh_host_gen.h"
#include "dh_log.h"
#include "host.h"
#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"
#include "version.h"

static char home[PATH_MAX];
static int verbose = 0;

int dh_host_verbose(void) { return verbose; }

static void usage(FILE *to) {
  fprintf(to,
          "usage: drhost [options] [SCRIPT [args...]]\n"
          "  -e CODE    run CODE (repeatable)\n"
          "  -i         enter the REPL after SCRIPT / -e\n"
          "  -v         verbose: log level debug; error reports with positions and tracebacks\n"
          "  -q         quiet: log level error\n"
          "  --version  print the version\n"
          "  -h, --help this text\n"
          "  --         end of options\n"
          "With no SCRIPT and no -e, drhost starts the REPL.\n");
}

/* DRHOST_HOME, else the directory of the binary, or its parent when that is build/. */
static void find_home(const char *argv0) {
  const char *env = getenv("DRHOST_HOME");
  if (env && *env) {
    snprintf(home, sizeof home, "%s", env);
    return;
  }
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
  } else if (!realpath(argv0, exe)) {
    snprintf(home, sizeof home, ".");
    return;
  }
  char *dir = dirname(exe);
  char tmp[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s", dir);
  const char *base = basename(tmp);
  if (strcmp(base, "build") == 0) {
    snprintf(tmp, sizeof tmp, "%s", dir);
    snprintf(home, sizeof home, "%s", dirname(tmp));
  } else {
    snprintf(home, sizeof home, "%s", dir);
  }
}

static int load_embedded(lua_State *L) {
  const dh_embedded_lua *m = &dh_embedded_modules[lua_tointeger(L, lua_upvalueindex(1))];
  if (luaL_loadbuffer(L, m->source, strlen(m->source), m->chunkname) != LUA_OK)
    return lua_error(L);
  lua_pushstring(L, m->name);
  lua_call(L, 1, 1);
  return 1;
}

static void setup_modules(lua_State *L) {
  lua_getglobal(L, "package");
  int pkg = lua_gettop(L);
  /* package.path: our directories first, then Lua's defaults (busted, luassert, system rocks). */
  lua_getfield(L, pkg, "path");
  const char *dflt = lua_tostring(L, -1);
  lua_pushfstring(L, "%s/modules/?.lua;%s/scripts/lib/?.lua;%s/scripts/lib/?/init.lua;%s/scripts/?.lua;%s",
                  home, home, home, home, dflt ? dflt : "");
  lua_setfield(L, pkg, "path");
  lua_pop(L, 1);
  lua_getfield(L, pkg, "preload");
  int pre = lua_gettop(L);
  for (const luaL_Reg *m = dh_preload_modules; m->name; m++) {
    lua_pushcfunction(L, m->func);
    lua_setfield(L, pre, m->name);
  }
  for (int i = 0; dh_embedded_modules[i].name; i++) {
    lua_pushinteger(L, i);
    lua_pushcclosure(L, load_embedded, 1);
    lua_setfield(L, pre, dh_embedded_modules[i].name);
  }
  /* require("drhost"): facts about the host. */
  lua_createtable(L, 0, 3);
  lua_pushstring(L, home);
  lua_setfield(L, -2, "home");
  lua_pushliteral(L, DRHOST_VERSION);
  lua_setfield(L, -2, "version");
  lua_newtable(L);
  for (const luaL_Reg *m = dh_preload_modules; m->name; m++) {
    lua_pushstring(L, m->name);
    lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
  }
  lua_setfield(L, -2, "c_modules");
  lua_getfield(L, pkg, "loaded");
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "drhost");
  lua_pop(L, 4);
  /* The error metatable exists before any module runs. */
  dh_error_metatable(L);
  lua_pop(L, 1);
}

/* arg table like lua.c: arg[0] = script, arg[1..] = its arguments, negatives = the host's. */
static void create_arg_table(lua_State *L, char **argv, int argc, int script) {
  int narg = argc - (script + 1);
  lua_createtable(L, narg, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - script);
  }
  lua_setglobal(L, "arg");
}

static int report(lua_State *L, int status) {
  if (status != LUA_OK) dh_print_report(L);
  return status;
}

static int run_chunk(lua_State *L, const char *code) {
  int status = luaL_loadbuffer(L, code, strlen(code), "=(command line)");
  if (status == LUA_OK) status = dh_docall(L, 0, 0);
  else {
    lua_pushfstring(L, "drhost: %s", lua_tostring(L, -1));
    lua_remove(L, -2);
  }
  return report(L, status);
}

static int run_script(lua_State *L, char **argv, int argc, int script) {
  const char *fname = argv[script];
  if (strcmp(fname, "-") == 0 && strcmp(argv[script - 1], "--") != 0) fname = NULL; /* stdin */
  int status = luaL_loadfile(L, fname);
  if (status != LUA_OK) {
    lua_pushfstring(L, "drhost: cannot run %s", lua_tostring(L, -1));
    lua_remove(L, -2);
    return report(L, status);
  }
  int n = argc - script - 1;
  luaL_checkstack(L, n + 3, "too many arguments to script");
  for (int i = script + 1; i < argc; i++) lua_pushstring(L, argv[i]);
  return report(L, dh_docall(L, n, 0));
}

typedef struct opts {
  int script;  /* index of the script in argv, or 0 */
  int has_e;
  int interactive;
} opts;

/* Returns 0, or 2 for a usage error (printed), or -1 for --version/--help (done). */
static int parse_args(int argc, char **argv, opts *o) {
  memset(o, 0, sizeof *o);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--") == 0) {
      if (i + 1 < argc) o->script = i + 1;
      return 0;
    }
    if (a[0] != '-' || strcmp(a, "-") == 0) {
      o->script = i;
      return 0;
    }
    if (strcmp(a, "-e") == 0) {
      if (i + 1 >= argc) {
        fprintf(stderr, "drhost: -e needs an argument\n");
        usage(stderr);
        return 2;
      }
      o->has_e = 1;
      i++;
    } else if (strcmp(a, "-i") == 0) {
      o->interactive = 1;
    } else if (strcmp(a, "-v") == 0) {
      dh_log_set_level(DH_LOG_DEBUG);
      verbose = 1;
    } else if (strcmp(a, "-q") == 0) {
      dh_log_set_level(DH_LOG_ERROR);
    } else if (strcmp(a, "--version") == 0) {
      printf("drhost %s (%s)\n", DRHOST_VERSION, LUA_RELEASE);
      return -1;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return -1;
    } else {
      fprintf(stderr, "drhost: unknown option '%s'\n", a);
      usage(stderr);
      return 2;
    }
  }
  return 0;
}

static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = (char **)lua_touserdata(L, 2);
  opts o;
  int rc = parse_args(argc, argv, &o);
  if (rc != 0) {
    lua_pushinteger(L, rc < 0 ? 0 : rc);
    return 1;
  }
  luaL_openlibs(L);
  find_home(argv[0]);
  setup_modules(L);
  create_arg_table(L, argv, argc, o.script);
  int status = LUA_OK;
  /* -e chunks in order. */
  for (int i = 1; i < argc && (!o.script || i < o.script) && status == LUA_OK; i++) {
    if (strcmp(argv[i], "-e") == 0) status = run_chunk(L, argv[++i]);
  }
  if (status == LUA_OK && o.script) status = run_script(L, argv, argc, o.script);
  if (status == LUA_OK && (o.interactive || (!o.script && !o.has_e))) {
    lua_pushinteger(L, dh_repl(L));
    return 1;
  }
  lua_pushinteger(L, status == LUA_OK ? 0 : (dh_last_error_status() ? dh_last_error_status() : 1));
  return 1;
}

int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  if (!L) {
    fprintf(stderr, "drhost: cannot create the Lua state: %s\n", strerror(errno ? errno : ENOMEM));
    return 1;
  }
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  int status = lua_pcall(L, 2, 1, 0);
  int rc;
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "drhost: %s\n", msg ? msg : "(error object is not a string)");
    rc = 1;
  } else {
    rc = (int)lua_tointeger(L, -1);
  }
  lua_close(L);
  return rc;
}
