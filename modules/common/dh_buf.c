#include "dh_buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lauxlib.h"
#include "lua.h"
#include "dh_error.h"

void dh_buf_init(dh_buf *b) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->oom = 0;
}

void dh_buf_free(dh_buf *b) {
  free(b->data);
  dh_buf_init(b);
}

void dh_buf_reset(dh_buf *b) { b->len = 0; }

int dh_buf_reserve(dh_buf *b, size_t extra) {
  if (b->oom) return -1;
  if (extra > SIZE_MAX - b->len - 1) {
    b->oom = 1;
    return -1;
  }
  size_t need = b->len + extra + 1; /* keep room for a NUL */
  if (need <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) {
    if (cap > SIZE_MAX / 2) {
      cap = need;
      break;
    }
    cap *= 2;
  }
  char *p = realloc(b->data, cap);
  if (!p) {
    b->oom = 1;
    return -1;
  }
  b->data = p;
  b->cap = cap;
  return 0;
}

void dh_buf_add(dh_buf *b, const void *p, size_t n) {
  if (n == 0 || dh_buf_reserve(b, n) != 0) return;
  memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void dh_buf_addc(dh_buf *b, char c) { dh_buf_add(b, &c, 1); }

void dh_buf_adds(dh_buf *b, const char *s) { dh_buf_add(b, s, strlen(s)); }

void dh_buf_addf(dh_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char small[256];
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof small) {
    dh_buf_add(b, small, (size_t)n);
    return;
  }
  if (dh_buf_reserve(b, (size_t)n) != 0) return;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

static int buf_gc(lua_State *L) {
  dh_buf *b = (dh_buf *)luaL_checkudata(L, 1, "drhost.buf");
  dh_buf_free(b);
  return 0;
}

dh_buf *dh_buf_lua(lua_State *L) {
  dh_buf *b = (dh_buf *)lua_newuserdatauv(L, sizeof(dh_buf), 0);
  dh_buf_init(b);
  if (luaL_newmetatable(L, "drhost.buf")) {
    lua_pushcfunction(L, buf_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, buf_gc);
    lua_setfield(L, -2, "__close");
  }
  lua_setmetatable(L, -2);
  return b;
}

void dh_buf_check(lua_State *L, const dh_buf *b) {
  if (b->oom) dh_raise(L, "MEMORY", "out of memory while building a buffer");
}
