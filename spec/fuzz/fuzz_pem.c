// fuzz-sources: modules/crypto.c modules/json.c
/* The PEM/JWT input path of crypto (jwt_rs256's key reading, x509 thumbprints, base64 decoders)
 * through a Lua state: arbitrary bytes must give a structured error or a result, never a crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

int luaopen_json(lua_State *L);
int luaopen_crypto(lua_State *L);

static const char *const SCRIPT =
    "local crypto, s = ...\n"
    "local function structured(ok, e)\n"
    "  if not ok then assert(type(e) == 'table' and type(e.code) == 'string', tostring(e)) end\n"
    "end\n"
    "structured(pcall(crypto.jwt_rs256, {}, { a = 1 }, s))\n"
    "structured(pcall(crypto.jwt_rs256, {}, {}, '-----BEGIN ' .. 'PRIVATE KEY-----\\n' .. s .. '\\n-----END ' .. 'PRIVATE KEY-----\\n'))\n"
    "structured(pcall(crypto.x509_thumbprint, s))\n"
    "structured(pcall(crypto.x509_thumbprint, '-----BEGIN CERTIFICATE-----\\n' .. s .. '\\n-----END CERTIFICATE-----\\n'))\n"
    "structured(pcall(crypto.base64url_decode, s))\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 1 << 14) return 0;
  lua_State *L = luaL_newstate();
  if (!L) return 0;
  luaL_openlibs(L);
  luaL_requiref(L, "json", luaopen_json, 0);
  lua_pop(L, 1);
  luaL_requiref(L, "crypto", luaopen_crypto, 0);
  int crypto = lua_gettop(L);
  if (luaL_loadstring(L, SCRIPT) != LUA_OK) abort();
  lua_pushvalue(L, crypto);
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
    fprintf(stderr, "property failed: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_close(L);
  return 0;
}
