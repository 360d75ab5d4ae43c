#include "dh_box.h"

#include <lauxlib.h>
#include <string.h>

void *dh_newbox(lua_State *L, size_t size, int nuv, const char *mt, lua_CFunction gc) {
  void *p = lua_newuserdatauv(L, size, nuv);
  memset(p, 0, size);
  if (luaL_newmetatable(L, mt)) {
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return p;
}
