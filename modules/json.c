/* json: decode with lua-cjson (plus a pre-scan, see dh_jsonscan.h), encode in C.
 *
 * lua-cjson 2.1.0 (Debian) decodes `[]` as an empty table indistinguishable from `{}`, decodes
 * every number as a float and formats numbers with %.14g when encoding (ids lose digits). So:
 *  - decode: pre-scan (big integers -> strings, empty arrays marked), cjson, then a walk that
 *    marks arrays/objects with metatables, restores empty arrays and turns integral floats within
 *    2^53 back into integers;
 *  - encode: our own encoder (exact integers, shortest round-trip floats, sorted object keys,
 *    marked arrays encode as arrays even when empty, optional indentation). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dh_buf.h"
#include "dh_error.h"
#include "dh_jsonscan.h"
#include "lauxlib.h"
#include "lua.h"

#define ARRAY_MT "drhost.json.array"
#define OBJECT_MT "drhost.json.object"
#define MAX_DEPTH 1000
#define TWO_53 9007199254740992.0

/* ---------- marks ---------- */

static int has_mt(lua_State *L, int idx, const char *name) {
  if (!lua_getmetatable(L, idx)) return 0;
  luaL_getmetatable(L, name);
  int same = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return same;
}

static int mark(lua_State *L, const char *mt) {
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  }
  dh_checktable(L, 1);
  lua_settop(L, 1);
  luaL_setmetatable(L, mt);
  return 1;
}

static int l_array(lua_State *L) { return mark(L, ARRAY_MT); }
static int l_object(lua_State *L) { return mark(L, OBJECT_MT); }

static int l_is_array(lua_State *L) {
  lua_pushboolean(L, lua_istable(L, 1) && has_mt(L, 1, ARRAY_MT));
  return 1;
}

static int l_is_object(lua_State *L) {
  lua_pushboolean(L, lua_istable(L, 1) && has_mt(L, 1, OBJECT_MT));
  return 1;
}

/* ---------- decode ---------- */

/* Walks the decoded value at idx: marks tables, restores empty arrays, integral floats -> ints. */
static void fix_decoded(lua_State *L, int idx, int depth) {
  idx = lua_absindex(L, idx);
  dh_checkstack(L, 4, "json: nesting too deep");
  if (depth > MAX_DEPTH) return; /* cjson already limits depth */
  lua_Integer n = 0;
  int strkeys = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) == LUA_TSTRING) strkeys = 1;
    else n++;
    if (lua_type(L, -1) == LUA_TTABLE) {
      fix_decoded(L, -1, depth + 1);
    } else if (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1)) {
      lua_Number d = lua_tonumber(L, -1);
      if (floor(d) == d && fabs(d) <= TWO_53) {
        lua_pushvalue(L, -2);
        lua_pushinteger(L, (lua_Integer)d);
        lua_rawset(L, idx);
      }
    }
    lua_pop(L, 1);
  }
  int empty_mark = 0;
  if (!strkeys && n == 1) {
    empty_mark = lua_rawgeti(L, idx, 1) == LUA_TSTRING &&
                 strcmp(lua_tostring(L, -1), DH_JSON_EMPTY_MARK) == 0;
    lua_pop(L, 1);
  }
  if (empty_mark) {
    lua_pushnil(L);
    lua_rawseti(L, idx, 1);
  }
  /* cjson decodes objects with string keys only, so integer keys mean an array. */
  lua_pushvalue(L, idx);
  luaL_setmetatable(L, (empty_mark || (!strkeys && n > 0)) ? ARRAY_MT : OBJECT_MT);
  lua_pop(L, 1);
}

static int l_decode(lua_State *L) {
  size_t len;
  const char *s = dh_checklstring(L, 1, &len);
  lua_settop(L, 1);
  dh_buf *b = dh_buf_lua(L); /* index 2, freed by the GC */
  size_t changes = dh_json_prescan(s, len, b);
  dh_buf_check(L, b);
  lua_pushvalue(L, lua_upvalueindex(1)); /* cjson.decode */
  if (changes) lua_pushlstring(L, b->data, b->len);
  else lua_pushvalue(L, 1);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
    /* Report cjson's message for the original text, so positions match the caller's input. */
    if (changes) {
      lua_pushvalue(L, lua_upvalueindex(1));
      lua_pushvalue(L, 1);
      if (lua_pcall(L, 1, 1, 0) != LUA_OK) lua_replace(L, -2);
      else lua_pop(L, 1);
    }
    const char *msg = lua_tostring(L, -1);
    int e = dh_error_push(L, "JSON_DECODE", "invalid JSON: %s", msg ? msg : "(unknown error)");
    lua_pushinteger(L, (lua_Integer)len);
    lua_setfield(L, e, "length");
    return dh_raise_table(L, e);
  }
  if (lua_type(L, -1) == LUA_TTABLE) fix_decoded(L, -1, 0);
  else if (lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1)) {
    lua_Number d = lua_tonumber(L, -1);
    if (floor(d) == d && fabs(d) <= TWO_53) lua_pushinteger(L, (lua_Integer)d);
  } else if (lua_type(L, -1) == LUA_TSTRING && changes) {
    /* a top-level big integer: it is already a string */
  }
  return 1;
}

/* ---------- encode ---------- */

typedef struct enc {
  lua_State *L;
  dh_buf *out;
  dh_buf *path; /* "$.a[2].b" for error messages */
  int indent;   /* spaces per level; 0 = compact */
} enc;

static void enc_fail(enc *e, const char *what) {
  dh_buf_check(e->L, e->path);
  dh_raise(e->L, "JSON_ENCODE", "cannot encode %s at %s", what,
           e->path->data ? e->path->data : "$");
}

static void enc_string(dh_buf *b, const char *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  dh_buf_reserve(b, len + 2);
  dh_buf_addc(b, '"');
  size_t run = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *esc = NULL;
    char u[7];
    switch (c) {
      case '"': esc = "\\\""; break;
      case '\\': esc = "\\\\"; break;
      case '\n': esc = "\\n"; break;
      case '\r': esc = "\\r"; break;
      case '\t': esc = "\\t"; break;
      case '\b': esc = "\\b"; break;
      case '\f': esc = "\\f"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          memcpy(u, "\\u00", 4);
          u[4] = hex[c >> 4];
          u[5] = hex[c & 15];
          u[6] = '\0';
          esc = u;
        }
    }
    if (esc) {
      dh_buf_add(b, s + i - run, run);
      run = 0;
      dh_buf_adds(b, esc);
    } else {
      run++;
    }
  }
  dh_buf_add(b, s + len - run, run);
  dh_buf_addc(b, '"');
}

static void enc_number(enc *e, int idx) {
  lua_State *L = e->L;
  if (lua_isinteger(L, idx)) {
    dh_buf_addf(e->out, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, idx));
    return;
  }
  lua_Number d = lua_tonumber(L, idx);
  if (isnan(d) || isinf(d)) enc_fail(e, isnan(d) ? "NaN" : "an infinite number");
  if (floor(d) == d && fabs(d) < 1e15) {
    dh_buf_addf(e->out, "%.0f", d);
    return;
  }
  char tmp[40];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(tmp, sizeof tmp, "%.*g", prec, d);
    if (strtod(tmp, NULL) == d) break;
  }
  dh_buf_adds(e->out, tmp);
  /* An integral float beyond 2^53 can print as bare digits ("%.17g" of 12345678901237846.0), which
   * decode reads as a big integer (a string): the fraction keeps it a number. */
  if (fabs(d) > TWO_53 && !strpbrk(tmp, ".eE")) dh_buf_adds(e->out, ".0");
}

static void enc_newline(enc *e, int depth) {
  if (!e->indent) return;
  dh_buf_addc(e->out, '\n');
  for (int i = 0; i < depth * e->indent; i++) dh_buf_addc(e->out, ' ');
}

/* Ends an array or object: the error path back to its own, then the closing bracket. */
static void enc_close(enc *e, size_t plen, int nonempty, int depth, char bracket) {
  e->path->len = plen;
  if (e->path->data) e->path->data[plen] = '\0';
  if (nonempty) enc_newline(e, depth);
  dh_buf_addc(e->out, bracket);
}

typedef struct key_entry {
  const char *s;
  size_t len;
  int slot; /* index of the original key in the keys table */
} key_entry;

static int key_cmp(const void *a, const void *b) {
  const key_entry *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->s, y->s, n);
  if (c) return c;
  return (x->len > y->len) - (x->len < y->len);
}

static void enc_value(enc *e, int idx, int depth);

static void enc_array(enc *e, int idx, lua_Integer n, int depth) {
  lua_State *L = e->L;
  size_t plen = e->path->len;
  dh_buf_addc(e->out, '[');
  for (lua_Integer i = 1; i <= n; i++) {
    if (i > 1) dh_buf_addc(e->out, ',');
    enc_newline(e, depth + 1);
    e->path->len = plen;
    dh_buf_addf(e->path, "[" LUA_INTEGER_FMT "]", (LUAI_UACINT)i);
    lua_rawgeti(L, idx, i);
    enc_value(e, -1, depth + 1);
    lua_pop(L, 1);
  }
  enc_close(e, plen, n > 0, depth, ']');
}

static void enc_object(enc *e, int idx, lua_Integer count, int depth) {
  lua_State *L = e->L;
  if (count > INT32_MAX) enc_fail(e, "a table this large");
  int n = (int)count;
  lua_createtable(L, n, 0); /* original keys */
  int keys = lua_gettop(L);
  lua_createtable(L, n, 0); /* their string forms (keep the strings alive) */
  int strs = lua_gettop(L);
  key_entry *ents = (key_entry *)lua_newuserdatauv(L, sizeof(key_entry) * (size_t)(n ? n : 1), 0);
  int i = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    int kt = lua_type(L, -1);
    if (kt == LUA_TSTRING) {
      lua_pushvalue(L, -1);
    } else if (kt == LUA_TNUMBER) {
      if (lua_isinteger(L, -1))
        lua_pushfstring(L, "%I", (LUAI_UACINT)lua_tointeger(L, -1));
      else {
        char tmp[40];
        snprintf(tmp, sizeof tmp, "%.17g", lua_tonumber(L, -1));
        lua_pushstring(L, tmp);
      }
    } else {
      lua_pushfstring(L, "a table key of type %s", luaL_typename(L, -1));
      enc_fail(e, lua_tostring(L, -1));
    }
    i++;
    lua_rawseti(L, strs, i);
    lua_pushvalue(L, -1);
    lua_rawseti(L, keys, i);
    lua_rawgeti(L, strs, i);
    ents[i - 1].s = lua_tolstring(L, -1, &ents[i - 1].len);
    ents[i - 1].slot = i;
    lua_pop(L, 1);
  }
  qsort(ents, (size_t)i, sizeof *ents, key_cmp);
  size_t plen = e->path->len;
  dh_buf_addc(e->out, '{');
  for (int k = 0; k < i; k++) {
    if (k) dh_buf_addc(e->out, ',');
    enc_newline(e, depth + 1);
    enc_string(e->out, ents[k].s, ents[k].len);
    dh_buf_addc(e->out, ':');
    if (e->indent) dh_buf_addc(e->out, ' ');
    e->path->len = plen;
    dh_buf_addc(e->path, '.');
    dh_buf_add(e->path, ents[k].s, ents[k].len);
    lua_rawgeti(L, keys, ents[k].slot);
    lua_rawget(L, idx);
    enc_value(e, -1, depth + 1);
    lua_pop(L, 1);
  }
  enc_close(e, plen, i > 0, depth, '}');
  lua_pop(L, 3);
}

static void enc_table(enc *e, int idx, int depth) {
  lua_State *L = e->L;
  if (depth >= MAX_DEPTH) enc_fail(e, "a table nested more than 1000 deep (a cycle?)");
  dh_checkstack(L, 8, "json: nesting too deep");
  if (has_mt(L, idx, ARRAY_MT)) {
    enc_array(e, idx, (lua_Integer)lua_rawlen(L, idx), depth);
    return;
  }
  int object = has_mt(L, idx, OBJECT_MT);
  lua_Integer count = 0, max = 0;
  int only_ints = 1;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    count++;
    if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1) {
      lua_Integer k = lua_tointeger(L, -1);
      if (k > max) max = k;
    } else {
      only_ints = 0;
    }
  }
  if (!object && count > 0 && only_ints && max == count) enc_array(e, idx, count, depth);
  else enc_object(e, idx, count, depth);
}

static void enc_value(enc *e, int idx, int depth) {
  lua_State *L = e->L;
  idx = lua_absindex(L, idx);
  switch (lua_type(L, idx)) {
    case LUA_TNIL: dh_buf_adds(e->out, "null"); break;
    case LUA_TBOOLEAN: dh_buf_adds(e->out, lua_toboolean(L, idx) ? "true" : "false"); break;
    case LUA_TNUMBER: enc_number(e, idx); break;
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      enc_string(e->out, s, len);
      break;
    }
    case LUA_TTABLE: enc_table(e, idx, depth); break;
    case LUA_TLIGHTUSERDATA:
      if (lua_touserdata(L, idx) == NULL) {
        dh_buf_adds(e->out, "null"); /* json.null (cjson.null) */
        break;
      }
      /* fallthrough */
    default: {
      lua_pushfstring(L, "a value of type %s", luaL_typename(L, idx));
      enc_fail(e, lua_tostring(L, -1));
    }
  }
  if (e->out->oom) dh_buf_check(L, e->out);
}

static int l_encode(lua_State *L) {
  dh_checkany(L, 1);
  int indent = 0;
  if (lua_istable(L, 2)) {
    int t = lua_getfield(L, 2, "indent");
    if (t == LUA_TBOOLEAN) indent = lua_toboolean(L, -1) ? 2 : 0;
    else if (t == LUA_TNUMBER) indent = (int)dh_checkinteger(L, -1);
    else if (t != LUA_TNIL) dh_raise(L, "BAD_ARGUMENT", "json.encode: opts.indent must be a boolean or a number");
    if (indent < 0 || indent > 16) dh_raise(L, "BAD_ARGUMENT", "json.encode: opts.indent must be 0..16");
    lua_pop(L, 1);
  } else if (!lua_isnoneornil(L, 2)) {
    dh_raise(L, "BAD_ARGUMENT", "json.encode: opts must be a table, got %s", luaL_typename(L, 2));
  }
  lua_settop(L, 1);
  enc e;
  e.L = L;
  e.out = dh_buf_lua(L);  /* 2 */
  e.path = dh_buf_lua(L); /* 3 */
  e.indent = indent;
  dh_buf_addc(e.path, '$');
  enc_value(&e, 1, 0);
  dh_buf_check(L, e.out);
  lua_pushlstring(L, e.out->data ? e.out->data : "", e.out->len);
  return 1;
}

int luaopen_json(lua_State *L) {
  /* A private cjson instance, so other users' settings do not change ours. */
  lua_getglobal(L, "require");
  lua_pushstring(L, "cjson");
  if (lua_pcall(L, 1, 1, 0) != LUA_OK)
    return dh_raise(L, "MODULE_MISSING", "json needs lua-cjson (Debian package lua-cjson): %s",
                    lua_tostring(L, -1));
  int cj = lua_gettop(L);
  lua_getfield(L, cj, "new");
  lua_call(L, 0, 1);
  lua_replace(L, cj);
  lua_getfield(L, cj, "decode_invalid_numbers");
  lua_pushboolean(L, 0);
  lua_call(L, 1, 0);

  luaL_newmetatable(L, ARRAY_MT);
  lua_pushliteral(L, "array");
  lua_setfield(L, -2, "__jsontype");
  lua_pop(L, 1);
  luaL_newmetatable(L, OBJECT_MT);
  lua_pushliteral(L, "object");
  lua_setfield(L, -2, "__jsontype");
  lua_pop(L, 1);

  static const luaL_Reg fns[] = {{"encode", l_encode},     {"array", l_array},
                                 {"object", l_object},     {"is_array", l_is_array},
                                 {"is_object", l_is_object}, {NULL, NULL}};
  luaL_newlib(L, fns);
  lua_getfield(L, cj, "decode");
  lua_pushcclosure(L, l_decode, 1);
  lua_setfield(L, -2, "decode");
  lua_getfield(L, cj, "null");
  lua_setfield(L, -2, "null");
  return 1;
}
