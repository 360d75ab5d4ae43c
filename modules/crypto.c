/* crypto: hashes, HMAC, base64/base64url, randomness, uuid4, RS256 JWTs and certificate
 * thumbprints, on OpenSSL 3's EVP interfaces. Errors: {code="BAD_INPUT"} for malformed input
 * (base64, PEM), {code="CRYPTO_ERROR"} with OpenSSL's reason otherwise. */
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "dh_base64.h"
#include "dh_buf.h"
#include "dh_box.h"
#include "dh_error.h"
#include "lauxlib.h"
#include "lua.h"

static int raise_openssl(lua_State *L, const char *code, const char *what) {
  unsigned long e = ERR_get_error();
  char reason[256];
  if (e) ERR_error_string_n(e, reason, sizeof reason);
  else snprintf(reason, sizeof reason, "no details from OpenSSL");
  ERR_clear_error();
  return dh_raise(L, code, "%s: %s", what, reason);
}

static void push_hex(lua_State *L, const unsigned char *p, size_t n) {
  static const char hex[] = "0123456789abcdef";
  luaL_Buffer b;
  char *out = luaL_buffinitsize(L, &b, n * 2);
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hex[p[i] >> 4];
    out[2 * i + 1] = hex[p[i] & 15];
  }
  luaL_pushresultsize(&b, n * 2);
}

static int digest(lua_State *L, const EVP_MD *md, const char *s, size_t len, unsigned char *out,
                  unsigned int *outlen) {
  if (!EVP_Digest(s, len, out, outlen, md, NULL)) return raise_openssl(L, "CRYPTO_ERROR", "digest failed");
  return 0;
}

/* crypto.sha256(s) -> hex digest; crypto.sha256_raw(s) -> the 32 bytes (upvalue 1: raw). */
static int l_sha256(lua_State *L) {
  size_t len;
  const char *s = dh_checklstring(L, 1, &len);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  digest(L, EVP_sha256(), s, len, md, &n);
  if (lua_toboolean(L, lua_upvalueindex(1))) lua_pushlstring(L, (const char *)md, n);
  else push_hex(L, md, n);
  return 1;
}

static int l_hmac_sha256(lua_State *L) {
  size_t klen, len;
  const char *key = dh_checklstring(L, 1, &klen);
  const char *s = dh_checklstring(L, 2, &len);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  /* HMAC() is the one-shot EVP-based helper (not deprecated in OpenSSL 3). */
  if (!HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)s, len, md, &n))
    return raise_openssl(L, "CRYPTO_ERROR", "hmac_sha256 failed");
  lua_pushlstring(L, (const char *)md, n);
  return 1;
}

static int l_hex(lua_State *L) {
  size_t len;
  const char *s = dh_checklstring(L, 1, &len);
  push_hex(L, (const unsigned char *)s, len);
  return 1;
}

static int b64_encode(lua_State *L, int variant) {
  size_t len;
  const char *s = dh_checklstring(L, 1, &len);
  dh_buf *b = dh_buf_lua(L);
  dh_base64_encode((const unsigned char *)s, len, variant, b);
  dh_buf_check(L, b);
  lua_pushlstring(L, b->data ? b->data : "", b->len);
  return 1;
}

static int b64_decode(lua_State *L, int variant) {
  size_t len;
  const char *s = dh_checklstring(L, 1, &len);
  dh_buf *b = dh_buf_lua(L);
  size_t off = 0;
  const char *why = "";
  if (dh_base64_decode(s, len, variant, b, &off, &why) != 0) {
    dh_buf_check(L, b);
    int e = dh_error_push(L, "BAD_INPUT", "invalid %s at offset %d: %s",
                          variant == DH_B64_URL ? "base64url" : "base64", (int)off, why);
    lua_pushinteger(L, (lua_Integer)off);
    lua_setfield(L, e, "offset");
    return dh_raise_table(L, e);
  }
  lua_pushlstring(L, b->data ? b->data : "", b->len);
  return 1;
}

static int l_base64_encode(lua_State *L) { return b64_encode(L, DH_B64_STD); }
static int l_base64_decode(lua_State *L) { return b64_decode(L, DH_B64_STD); }
static int l_base64url_encode(lua_State *L) { return b64_encode(L, DH_B64_URL); }
static int l_base64url_decode(lua_State *L) { return b64_decode(L, DH_B64_URL); }

static int l_random_bytes(lua_State *L) {
  lua_Integer n = dh_checkinteger(L, 1);
  if (n < 0 || n > 1 << 20) return dh_raise(L, "BAD_ARGUMENT", "random_bytes: n must be 0..1048576, got %d", (int)n);
  luaL_Buffer b;
  unsigned char *p = (unsigned char *)luaL_buffinitsize(L, &b, (size_t)n);
  if (n > 0 && RAND_bytes(p, (int)n) != 1) return raise_openssl(L, "CRYPTO_ERROR", "RAND_bytes failed");
  luaL_pushresultsize(&b, (size_t)n);
  return 1;
}

static int l_uuid4(lua_State *L) {
  unsigned char u[16];
  if (RAND_bytes(u, sizeof u) != 1) return raise_openssl(L, "CRYPTO_ERROR", "RAND_bytes failed");
  u[6] = (unsigned char)((u[6] & 0x0f) | 0x40); /* version 4 */
  u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
  static const char hex[] = "0123456789abcdef";
  char s[37];
  int j = 0;
  for (int i = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s[j++] = '-';
    s[j++] = hex[u[i] >> 4];
    s[j++] = hex[u[i] & 15];
  }
  s[j] = '\0';
  lua_pushstring(L, s);
  return 1;
}

/* ---- PEM inputs (owned by userdata boxes so a raised error frees them) ---- */

typedef struct pkey_box { EVP_PKEY *k; } pkey_box;
typedef struct x509_box { X509 *x; } x509_box;
typedef struct mdctx_box { EVP_MD_CTX *c; } mdctx_box;

static int pkey_gc(lua_State *L) {
  pkey_box *b = (pkey_box *)lua_touserdata(L, 1);
  if (b && b->k) EVP_PKEY_free(b->k);
  if (b) b->k = NULL;
  return 0;
}
static int x509_gc(lua_State *L) {
  x509_box *b = (x509_box *)lua_touserdata(L, 1);
  if (b && b->x) X509_free(b->x);
  if (b) b->x = NULL;
  return 0;
}
static int mdctx_gc(lua_State *L) {
  mdctx_box *b = (mdctx_box *)lua_touserdata(L, 1);
  if (b && b->c) EVP_MD_CTX_free(b->c);
  if (b) b->c = NULL;
  return 0;
}

static int pem_has(const char *pem, size_t len, const char *label) {
  size_t n = strlen(label);
  for (size_t i = 0; i + n <= len; i++)
    if (memcmp(pem + i, label, n) == 0) return 1;
  return 0;
}

/* The PEM text of argument idx as a memory BIO (the caller frees it), after checking that it
 * holds a block whose BEGIN line ends in `label` (what: "key", "certificate"; block: the hint). */
static BIO *pem_input(lua_State *L, int idx, const char *label, const char *what, const char *block) {
  size_t len;
  const char *pem = dh_checklstring(L, idx, &len);
  if (len > 1 << 20) dh_raise(L, "BAD_INPUT", "PEM %s larger than 1 MiB", what);
  if (!pem_has(pem, len, label))
    dh_raise(L, "BAD_INPUT", "no PEM %s found (expected a '%s' block)", strcmp(what, "key") ? what : "private key",
             block);
  BIO *bio = BIO_new_mem_buf(pem, (int)len);
  if (!bio) raise_openssl(L, "CRYPTO_ERROR", "BIO_new_mem_buf failed");
  return bio;
}

/* Reads the first private key in pem (other PEM blocks, e.g. certificates, are skipped). */
static EVP_PKEY *read_key(lua_State *L, int idx) {
  pkey_box *box = (pkey_box *)dh_newbox(L, sizeof *box, 0, "drhost.crypto.pkey", pkey_gc);
  BIO *bio = pem_input(L, idx, "PRIVATE KEY-----", "key", "-----BEGIN ... PRIVATE KEY-----");
  box->k = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
  BIO_free(bio);
  if (!box->k) raise_openssl(L, "BAD_INPUT", "cannot read the PEM private key");
  ERR_clear_error();
  return box->k;
}

static X509 *read_cert(lua_State *L, int idx) {
  x509_box *box = (x509_box *)dh_newbox(L, sizeof *box, 0, "drhost.crypto.x509", x509_gc);
  BIO *bio = pem_input(L, idx, "-----BEGIN CERTIFICATE-----", "certificate", "-----BEGIN CERTIFICATE-----");
  box->x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
  BIO_free(bio);
  if (!box->x) raise_openssl(L, "BAD_INPUT", "cannot read the PEM certificate");
  ERR_clear_error();
  return box->x;
}

static int thumbprint(lua_State *L, const EVP_MD *md) {
  X509 *x = read_cert(L, 1);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!X509_digest(x, md, out, &n)) return raise_openssl(L, "CRYPTO_ERROR", "X509_digest failed");
  lua_pushlstring(L, (const char *)out, n);
  return 1;
}

static int l_x509_thumbprint(lua_State *L) { return thumbprint(L, EVP_sha1()); }
static int l_x509_thumbprint_sha256(lua_State *L) { return thumbprint(L, EVP_sha256()); }

/* Signs data with an RSA key, RS256 (PKCS#1 v1.5, SHA-256); pushes the raw signature. */
static void rs256_sign(lua_State *L, EVP_PKEY *key, const char *data, size_t len) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
    dh_raise(L, "BAD_INPUT", "RS256 needs an RSA private key, got a %s key", OBJ_nid2sn(EVP_PKEY_get_base_id(key)));
  mdctx_box *box = (mdctx_box *)dh_newbox(L, sizeof *box, 0, "drhost.crypto.mdctx", mdctx_gc);
  box->c = EVP_MD_CTX_new();
  if (!box->c) raise_openssl(L, "CRYPTO_ERROR", "EVP_MD_CTX_new failed");
  size_t siglen = 0;
  if (EVP_DigestSignInit(box->c, NULL, EVP_sha256(), NULL, key) != 1 ||
      EVP_DigestSign(box->c, NULL, &siglen, (const unsigned char *)data, len) != 1)
    raise_openssl(L, "CRYPTO_ERROR", "RS256 signing failed");
  luaL_Buffer b;
  unsigned char *sig = (unsigned char *)luaL_buffinitsize(L, &b, siglen);
  if (EVP_DigestSign(box->c, sig, &siglen, (const unsigned char *)data, len) != 1)
    raise_openssl(L, "CRYPTO_ERROR", "RS256 signing failed");
  luaL_pushresultsize(&b, siglen);
  lua_remove(L, -2); /* the context box */
}

/* json.encode(v) -> string on the stack */
static void json_encode(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  lua_getglobal(L, "require");
  lua_pushliteral(L, "json");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "encode");
  lua_remove(L, -2);
  lua_pushvalue(L, idx);
  lua_call(L, 1, 1);
}

static void push_b64url(lua_State *L, const char *s, size_t len) {
  dh_buf *b = dh_buf_lua(L);
  dh_base64_encode((const unsigned char *)s, len, DH_B64_URL, b);
  dh_buf_check(L, b);
  lua_pushlstring(L, b->data ? b->data : "", b->len);
  lua_remove(L, -2);
}

/* jwt_rs256(header, claims, pem_key) -> compact JWS. header gets alg=RS256, typ=JWT unless set. */
static int l_jwt_rs256(lua_State *L) {
  if (!lua_istable(L, 1)) return dh_raise(L, "BAD_ARGUMENT", "jwt_rs256: header must be a table, got %s", luaL_typename(L, 1));
  if (!lua_istable(L, 2)) return dh_raise(L, "BAD_ARGUMENT", "jwt_rs256: claims must be a table, got %s", luaL_typename(L, 2));
  if (lua_type(L, 3) != LUA_TSTRING) return dh_raise(L, "BAD_ARGUMENT", "jwt_rs256: pem_key must be a PEM string, got %s", luaL_typename(L, 3));
  lua_settop(L, 3);
  EVP_PKEY *key = read_key(L, 3); /* 4 */
  lua_newtable(L);                /* 5: header copy */
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_settable(L, 5);
  }
  if (lua_getfield(L, 5, "alg") == LUA_TNIL) {
    lua_pushliteral(L, "RS256");
    lua_setfield(L, 5, "alg");
  } else if (!lua_isstring(L, -1) || strcmp(lua_tostring(L, -1), "RS256") != 0) {
    return dh_raise(L, "BAD_ARGUMENT", "jwt_rs256: header.alg must be RS256");
  }
  lua_pop(L, 1);
  if (lua_getfield(L, 5, "typ") == LUA_TNIL) {
    lua_pushliteral(L, "JWT");
    lua_setfield(L, 5, "typ");
  }
  lua_pop(L, 1);
  size_t hl, cl;
  json_encode(L, 5); /* 6 */
  const char *h = lua_tolstring(L, 6, &hl);
  push_b64url(L, h, hl); /* 7 */
  json_encode(L, 2);     /* 8 */
  const char *c = lua_tolstring(L, 8, &cl);
  push_b64url(L, c, cl); /* 9 */
  lua_pushvalue(L, 7);
  lua_pushliteral(L, ".");
  lua_pushvalue(L, 9);
  lua_concat(L, 3); /* 10: signing input */
  size_t sl;
  const char *signing = lua_tolstring(L, 10, &sl);
  rs256_sign(L, key, signing, sl); /* 11 */
  size_t gl;
  const char *sig = lua_tolstring(L, 11, &gl);
  push_b64url(L, sig, gl); /* 12 */
  lua_pushvalue(L, 10);
  lua_pushliteral(L, ".");
  lua_pushvalue(L, 12);
  lua_concat(L, 3);
  return 1;
}

/* Compares two strings in time independent of where they differ. */
static int l_equal(lua_State *L) {
  size_t a, b;
  const char *x = dh_checklstring(L, 1, &a);
  const char *y = dh_checklstring(L, 2, &b);
  lua_pushboolean(L, a == b && CRYPTO_memcmp(x, y, a) == 0);
  return 1;
}

int luaopen_crypto(lua_State *L) {
  static const luaL_Reg fns[] = {
      {"hmac_sha256", l_hmac_sha256},
      {"hex", l_hex},
      {"base64_encode", l_base64_encode},
      {"base64_decode", l_base64_decode},
      {"base64url_encode", l_base64url_encode},
      {"base64url_decode", l_base64url_decode},
      {"random_bytes", l_random_bytes},
      {"uuid4", l_uuid4},
      {"jwt_rs256", l_jwt_rs256},
      {"x509_thumbprint", l_x509_thumbprint},
      {"x509_thumbprint_sha256", l_x509_thumbprint_sha256},
      {"constant_time_equal", l_equal},
      {NULL, NULL}};
  luaL_newlib(L, fns);
  for (int raw = 0; raw <= 1; raw++) {
    lua_pushboolean(L, raw);
    lua_pushcclosure(L, l_sha256, 1);
    lua_setfield(L, -2, raw ? "sha256_raw" : "sha256");
  }
  return 1;
}
