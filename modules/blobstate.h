/* blobstate's parts, behind one operations table:
 *   blobstate.c            the Lua binding (argument checks, store and lease objects) and what
 *                          both backends share (lease records, LOCKED errors, version names)
 *   blobstate_azure.c      the Azure Blob backend (REST calls through the http module's curl machinery)
 *   blobstate_sharedkey.c  Shared Key signing of a request's headers
 *   blobstate_lease.c      the background thread that renews an Azure lease
 *   blobstate_local.c      the local directory backend (files, flock as the lease)
 * Internal to the blobstate module; the Lua API is in docs/modules/blobstate.md. */
#ifndef DH_BLOBSTATE_H
#define DH_BLOBSTATE_H

#include <lua.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#define BS_STORE_MT "drhost.blobstate.store"
#define BS_LEASE_MT "drhost.blobstate.lease"
#define BS_XMS_VERSION "2021-12-02" /* x-ms-version of every Blob service request */

typedef struct store store;
typedef struct lease lease;

/* The condition of a write: at most one of them is set (if_none_match is "*"). */
typedef struct bs_cond {
  const char *if_match;
  const char *if_none_match;
} bs_cond;

/* What a backend does. Every store operation is called with the store userdata at stack index 1,
 * its arguments checked; it pushes its Lua results and returns their count, raising drhost errors. */
typedef struct bs_ops {
  int (*read)(lua_State *L, store *st, const char *name);                  /* body, etag | nil */
  int (*write)(lua_State *L, store *st, const char *name, const char *body, size_t len,
               const bs_cond *cond);                                        /* etag */
  int (*lock)(lua_State *L, store *st, const char *name, const char *holder, int duration); /* lease */
  int (*break_lock)(lua_State *L, store *st, const char *name);            /* was it held */
  int (*versions)(lua_State *L, store *st, const char *name);              /* list */
  void (*describe)(lua_State *L, const store *st);                         /* pushes tostring */
  void (*free_store)(store *st);
  /* lease:release() of an active lease, already unlinked from st (NULL when the store is gone),
   * the lease at index 1 and its store userdata at store_idx */
  void (*release)(lua_State *L, lease *l, store *st, int store_idx);
  void (*free_lease)(lease *l); /* stops what the backend started and frees what it allocated */
} bs_ops;

/* The operations table of a backend whose functions are PREFIX_read, PREFIX_write, ... */
#define BS_OPS(prefix)                                                                                  \
  {.read = prefix##_read, .write = prefix##_write, .lock = prefix##_lock, .break_lock = prefix##_break_lock, \
   .versions = prefix##_versions, .describe = prefix##_describe, .free_store = prefix##_free_store,       \
   .release = prefix##_release, .free_lease = prefix##_free_lease}

/* Set up a new store (the userdata on top of the stack): ops and the backend's fields, after checking
 * the options; raise INVALID_ARGUMENT / IO_ERROR. token_idx: the token function, or 0 with a key. */
void bs_azure_open(lua_State *L, store *st, const char *endpoint, const char *container, const char *account,
                   const char *key, int token_idx);
void bs_local_open(lua_State *L, store *st, const char *path);

struct store {
  const bs_ops *ops;
  lease *leases; /* leases held through this store */
  /* Azure */
  char *endpoint;  /* without trailing slash */
  char *container;
  char *account;
  unsigned char key[128];
  int keylen;      /* 0: bearer token from the Lua function (uservalue 1) */
  int container_ok;
  /* local */
  char *path;      /* the directory */
};

struct lease {
  const bs_ops *ops;
  store *st;     /* NULL once the store is gone */
  lease *next;
  char *name;
  char *holder;
  char since[32];
  char id[64];
  int duration;
  int active;    /* 1 held, 0 released, -1 freed */
  /* Azure: background renewal (blobstate_lease.c), under mu */
  pthread_t thread;
  int thread_started;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int stop;
  atomic_int abort_now; /* set with stop: aborts a renewal in flight */
  int renewals;
  int lost;
  char last_error[256];
  char *url;          /* lease URL (.../container/name?comp=lease) */
  char *res;          /* canonical resource for Shared Key */
  char *account;
  unsigned char key[128];
  int keylen;
  char *token;        /* bearer token, refreshed by store calls */
  void *certs;
  /* local */
  int fd;
  char *lock_path;
};

/* ---- shared by the backends (blobstate.c) */
char *bs_strdup(const char *s);
void bs_utc_now(char *out, size_t n, const char *fmt);
/* A new active lease record of `st` (the userdata at store_idx), pushed; linked into st->leases. */
lease *bs_lease_new(lua_State *L, int store_idx, store *st, const char *name, const char *holder, int duration);
/* The lease this store holds on `name`, or NULL. */
lease *bs_held_lease(const store *st, const char *name);
/* "<name>.versions/<YYYYmmddTHHMMSS.mmmZ>-<etag letters and digits>" */
void bs_version_name(char *out, size_t n, const char *name, const char *etag);
/* Pushes a version entry {name, time, etag, size, modified}; etag and modified may be NULL. */
void bs_push_version(lua_State *L, const char *name, size_t nl, const char *etag, size_t el, lua_Integer size,
                     const char *modified, size_t ml);
/* LOCKED (409) naming the holder and since at the given stack indexes (strings or nil) and, for a
 * lease that outlives a holder that died, how long it can still last: expires_in seconds at the
 * most, BS_LEASE_INFINITE, or BS_LEASE_WITH_HOLDER (it ends with its holder process). */
#define BS_LEASE_INFINITE (-1)
#define BS_LEASE_WITH_HOLDER (-2)
__attribute__((noreturn)) int bs_raise_locked(lua_State *L, const char *name, int holder_idx, int since_idx,
                                               int expires_in);
/* The holder of a lease when the caller names none: "user@host pid N", and in a GitHub Actions run
 * " run <server>/<repository>/actions/runs/<id>". */
void bs_default_holder(char *out, size_t n);
/* CONDITION_NOT_MET (412) for a write whose condition failed; `why` may be NULL. */
__attribute__((noreturn)) int bs_raise_condition(lua_State *L, const char *name, const bs_cond *cond,
                                                  const char *why);

/* ---- Shared Key (blobstate_sharedkey.c) */
#define BS_MAX_HDRS 24
typedef struct bs_hdrs {
  const char *name[BS_MAX_HDRS];
  char value[BS_MAX_HDRS][256];
  int n;
} bs_hdrs;

typedef struct bs_qparam {
  const char *k;
  const char *v;
} bs_qparam;

void bs_hset(bs_hdrs *h, const char *name, const char *value);
/* "SharedKey account:signature" of a Blob service request into out ("" when it does not fit).
 * `path` is the URL path as sent; q (sorted in place) are the query parameters. */
void bs_shared_key(const char *account, const unsigned char *key, int keylen, const char *method, const char *path,
                   bs_qparam *q, int nq, long content_length, const bs_hdrs *h, char *out, size_t out_size);

/* ---- Azure lease renewal (blobstate_lease.c) */
/* Starts the thread renewing l every duration/3 seconds (l->url, res, account, key or token set). */
int bs_renewal_start(lease *l);
/* Stops and joins it (no-op when not started). */
void bs_renewal_stop(lease *l);

#endif
