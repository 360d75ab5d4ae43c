/* Declarations of the tables generated into build/gen/ by mk/gen-preload.sh. */
#ifndef DH_HOST_GEN_H
#define DH_HOST_GEN_H
#include <stddef.h>
#include "lua.h"
#include "lauxlib.h"

typedef struct dh_embedded_lua {
  const char *name;      /* module name, e.g. "drhost.pretty" */
  const char *chunkname; /* "@host/lua/pretty.lua" */
  const char *source;
} dh_embedded_lua;

extern const luaL_Reg dh_preload_modules[];
extern const dh_embedded_lua dh_embedded_modules[];
#endif
