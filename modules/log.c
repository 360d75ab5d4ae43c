/* log: levelled key=value (or JSON) lines on stderr with secrets redacted (see dh_log.h).
 *   log.debug/info/warn/error(msg, fields)   log.level() / log.set_level(name)
 *   log.enabled(name)   log.redact(s) */
#include <string.h>

#include "dh_buf.h"
#include "dh_error.h"
#include "dh_log.h"
#include "lauxlib.h"
#include "lua.h"

#define MAX_FIELDS 64

/* Text of a field value: strings as is, tables through json.encode, others via tostring. */
static const char *field_text(lua_State *L, int idx) {
  if (lua_type(L, idx) == LUA_TTABLE) {
    lua_getglobal(L, "require");
    lua_pushliteral(L, "json");
    if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
      lua_getfield(L, -1, "encode");
      lua_pushvalue(L, idx);
      if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
        lua_remove(L, -2);
        return lua_tostring(L, -1);
      }
    }
    lua_pop(L, 1);
  }
  return luaL_tolstring(L, idx, NULL);
}

static int emit(lua_State *L, int level) {
  if (!dh_log_enabled(level)) return 0;
  lua_settop(L, 2);
  const char *msg = luaL_tolstring(L, 1, NULL); /* pushed: keeps it alive */
  const char *keys[MAX_FIELDS];
  const char *vals[MAX_FIELDS];
  size_t n = 0;
  if (lua_istable(L, 2)) {
    /* Collect, then sort keys so lines are stable. */
    lua_newtable(L);
    int list = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, 2)) {
      lua_pop(L, 1);
      if (lua_type(L, -1) == LUA_TSTRING) {
        lua_pushvalue(L, -1);
        lua_rawseti(L, list, (lua_Integer)lua_rawlen(L, list) + 1);
      }
    }
    lua_getglobal(L, "table");
    lua_getfield(L, -1, "sort");
    lua_remove(L, -2);
    lua_pushvalue(L, list);
    lua_call(L, 1, 0);
    size_t total = lua_rawlen(L, list);
    dh_checkstack(L, (int)(3 * (total < MAX_FIELDS ? total : MAX_FIELDS)) + 4, "log: too many fields");
    for (size_t i = 1; i <= total && n < MAX_FIELDS; i++) {
      lua_rawgeti(L, list, (lua_Integer)i);
      keys[n] = lua_tostring(L, -1);
      lua_gettable(L, 2); /* replaces the key with the value, but keep the key alive: */
      lua_rawgeti(L, list, (lua_Integer)i);
      lua_insert(L, -2);
      vals[n] = field_text(L, lua_gettop(L));
      keys[n] = lua_tostring(L, -3);
      n++;
    }
  } else if (!lua_isnoneornil(L, 2)) {
    return dh_raise(L, "BAD_ARGUMENT", "log: fields must be a table, got %s", luaL_typename(L, 2));
  }
  dh_log_write(level, msg, n, keys, vals);
  return 0;
}

static int l_debug(lua_State *L) { return emit(L, DH_LOG_DEBUG); }
static int l_info(lua_State *L) { return emit(L, DH_LOG_INFO); }
static int l_warn(lua_State *L) { return emit(L, DH_LOG_WARN); }
static int l_error(lua_State *L) { return emit(L, DH_LOG_ERROR); }

static int l_level(lua_State *L) {
  lua_pushstring(L, dh_log_level_name(dh_log_level()));
  return 1;
}

static int check_level(lua_State *L, int idx) {
  const char *name = dh_checklstring(L, idx, NULL);
  int level = dh_log_parse_level(name);
  if (level < 0)
    return dh_raise(L, "BAD_ARGUMENT", "log: unknown level '%s' (expected debug, info, warn, error or off)", name);
  return level;
}

static int l_set_level(lua_State *L) {
  dh_log_set_level(check_level(L, 1));
  return 0;
}

static int l_enabled(lua_State *L) {
  lua_pushboolean(L, dh_log_enabled(check_level(L, 1)));
  return 1;
}

static int l_redact(lua_State *L) {
  size_t len;
  const char *s = dh_checklstring(L, 1, &len);
  dh_buf *b = dh_buf_lua(L);
  dh_redact(s, len, b);
  dh_buf_check(L, b);
  lua_pushlstring(L, b->data ? b->data : "", b->len);
  return 1;
}

static int l_sensitive(lua_State *L) {
  size_t len;
  const char *s = dh_checklstring(L, 1, &len);
  lua_pushboolean(L, dh_log_sensitive_key(s, len));
  return 1;
}

int luaopen_log(lua_State *L) {
  static const luaL_Reg fns[] = {{"debug", l_debug},   {"info", l_info},
                                 {"warn", l_warn},     {"error", l_error},
                                 {"level", l_level},   {"set_level", l_set_level},
                                 {"enabled", l_enabled}, {"redact", l_redact},
                                 {"is_sensitive_key", l_sensitive}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
