// fuzz-sources: modules/json.c
/* json.decode on arbitrary text through a real Lua state (pre-scan + lua-cjson + the fix-up walk),
 * then the encoder: whatever decodes must encode, and encoding is stable under a second
 * decode/encode round. Errors must be structured (a table with a code). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

int luaopen_json(lua_State *L);

static const char *const SCRIPT =
    "local json, s = ...\n"
    "local ok, v = pcall(json.decode, s)\n"
    "if not ok then\n"
    "  assert(type(v) == 'table' and v.code == 'JSON_DECODE', 'unstructured decode error')\n"
    "  return\n"
    "end\n"
    "local ok2, e1 = pcall(json.encode, v)\n"
    "if not ok2 then\n"
    "  -- only numbers JSON cannot carry (cjson accepts huge exponents as inf) may fail\n"
    "  assert(type(e1) == 'table' and e1.code == 'JSON_ENCODE', 'unstructured encode error')\n"
    "  return\n"
    "end\n"
    "local e2 = json.encode(json.decode(e1))\n"
    "assert(e1 == e2, 'encode not stable: ' .. e1 .. ' vs ' .. e2)\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 1 << 16) return 0;
  lua_State *L = luaL_newstate();
  if (!L) return 0;
  luaL_openlibs(L);
  luaL_requiref(L, "json", luaopen_json, 0);
  int json = lua_gettop(L);
  if (luaL_loadstring(L, SCRIPT) != LUA_OK) abort();
  lua_pushvalue(L, json);
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (msg && strstr(msg, "not enough memory")) { lua_close(L); return 0; }
    fprintf(stderr, "property failed: %s\n", msg ? msg : "?");
    abort();
  }
  lua_close(L);
  return 0;
}
