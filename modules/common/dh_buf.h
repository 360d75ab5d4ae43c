/* Growable byte buffer. A dh_buf owns its memory; dh_buf_free releases it.
 * dh_buf_lua() returns a buffer owned by a Lua userdata pushed on the stack (freed by the GC, so it
 * cannot leak when a Lua error unwinds past the C code using it). */
#ifndef DH_BUF_H
#define DH_BUF_H
#include <stddef.h>

typedef struct dh_buf {
  char *data;
  size_t len;
  size_t cap;
  int oom; /* set when an allocation failed; further appends are ignored */
} dh_buf;

void dh_buf_init(dh_buf *b);
void dh_buf_free(dh_buf *b);
int dh_buf_reserve(dh_buf *b, size_t extra); /* 0 on success, -1 on overflow/OOM */
void dh_buf_add(dh_buf *b, const void *p, size_t n);
void dh_buf_addc(dh_buf *b, char c);
void dh_buf_adds(dh_buf *b, const char *s);
void dh_buf_addf(dh_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dh_buf_reset(dh_buf *b);

struct lua_State;
/* Pushes a userdata owning a fresh dh_buf and returns the buffer. */
dh_buf *dh_buf_lua(struct lua_State *L);
/* Raises a MEMORY error if b->oom is set. */
void dh_buf_check(struct lua_State *L, const dh_buf *b);
#endif
