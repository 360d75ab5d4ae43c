/* Userdata boxes that C modules own resources through: zeroed, with a metatable whose __gc frees
 * what the box holds (so a Lua error never leaks it). */
#ifndef DH_BOX_H
#define DH_BOX_H
#include <lua.h>
#include <stddef.h>

/* Pushes a new zeroed userdata of `size` bytes with `nuv` user values and the metatable `mt`
 * (created on first use with __gc = gc); returns its memory. */
void *dh_newbox(lua_State *L, size_t size, int nuv, const char *mt, lua_CFunction gc);
#endif
