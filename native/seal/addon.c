/*
 * N-API glue for chunk_gcm.c: argument checks, the sync calls, and the async calls that run
 * on the libuv threadpool. Exports sealChunks, openChunks, sealChunksAsync, openChunksAsync;
 * src/seal/internal/native-gcm.ts documents them. Also a SHA-256 stream whose updates run on the
 * threadpool (sha256Create, sha256UpdateAsync, sha256Copy, sha256Digest), so that a second hash
 * of the same bytes uses another core; src/internal/background-sha256.ts documents them. And
 * zeroing on the threadpool (zeroAsync), documented in src/internal/zero-soon.ts.
 */
#define _DEFAULT_SOURCE /* explicit_bzero in glibc's string.h */
#include <node_api.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "chunk_gcm.h"

typedef enum { OP_SEAL, OP_OPEN } op_kind;

/* Throws a generic error for a failed napi call unless an exception is already pending. */
static bool ok(napi_env env, napi_status status) {
  bool pending = false;
  if (status == napi_ok) return true;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, "ERR_INTERNAL", "N-API call failed in sealtrain_native");
  return false;
}

static bool type_error(napi_env env, const char *name, const char *expected) {
  char msg[160];
  snprintf(msg, sizeof msg, "The \"%s\" argument must be %s", name, expected);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return false;
}

static bool range_error(napi_env env, const char *msg) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
  return false;
}

static bool get_bytes(napi_env env, napi_value v, const char *name, uint8_t **data, size_t *len) {
  bool is_typed = false;
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  void *ptr = NULL;
  if (!ok(env, napi_is_typedarray(env, v, &is_typed))) return false;
  if (!is_typed) return type_error(env, name, "a Uint8Array or Buffer");
  if (!ok(env, napi_get_typedarray_info(env, v, &type, len, &ptr, &buffer, &offset))) return false;
  if (type != napi_uint8_array) return type_error(env, name, "a Uint8Array or Buffer");
  *data = ptr; /* already adjusted by the view's byte offset */
  return true;
}

static bool get_integer(napi_env env, napi_value v, const char *name, double min, double max, double *out) {
  napi_valuetype t;
  char msg[160];
  if (!ok(env, napi_typeof(env, v, &t))) return false;
  if (t != napi_number) return type_error(env, name, "a number");
  if (!ok(env, napi_get_value_double(env, v, out))) return false;
  if (*out != *out || *out < min || *out > max || *out != (double)(int64_t)*out) {
    snprintf(msg, sizeof msg, "The \"%s\" argument must be an integer from %.0f to %.0f", name, min, max);
    return range_error(env, msg);
  }
  return true;
}

static bool overlaps(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
  return alen > 0 && blen > 0 && a < b + blen && b < a + alen;
}

/* Checks the sizes and fills b->chunks and b->dst_len's expectation. */
static bool check_sizes(napi_env env, op_kind op, st_batch *b) {
  char msg[200];
  size_t n = op == OP_SEAL ? st_seal_chunk_count(b->src_len, b->chunk_size)
                           : st_open_chunk_count(b->src_len, b->chunk_size);
  if (n == 0) {
    snprintf(msg, sizeof msg, "src of %zu bytes is not a run of sealed chunks of chunkSize + 16 = %zu bytes "
             "whose last chunk is at least 16 bytes", b->src_len, b->chunk_size + ST_TAG_SIZE);
    return range_error(env, msg);
  }
  size_t want = op == OP_SEAL ? b->src_len + n * ST_TAG_SIZE : b->src_len - n * ST_TAG_SIZE;
  if (b->dst_len != want) {
    snprintf(msg, sizeof msg, "dst must be %zu bytes for %zu src bytes in %zu chunks, got %zu", want,
             b->src_len, n, b->dst_len);
    return range_error(env, msg);
  }
  if (b->first_index + n > ST_MAX_CHUNKS) {
    snprintf(msg, sizeof msg, "Chunk indices %llu to %llu exceed the limit of 2^32 chunks",
             (unsigned long long)b->first_index, (unsigned long long)(b->first_index + n - 1));
    return range_error(env, msg);
  }
  if (overlaps(b->src, b->src_len, b->dst, b->dst_len)) return range_error(env, "src and dst must not overlap");
  b->chunks = n;
  return true;
}

/* Parses (key, src, dst, chunkSize, firstIndex, finalIsLast) into b; throws on bad arguments. */
static bool parse_batch(napi_env env, op_kind op, napi_value *argv, st_batch *b) {
  uint8_t *key = NULL, *src = NULL;
  size_t key_len = 0;
  double chunk_size, first_index;
  napi_valuetype t;
  if (!get_bytes(env, argv[0], "key", &key, &key_len)) return false;
  if (!get_bytes(env, argv[1], "src", &src, &b->src_len)) return false;
  if (!get_bytes(env, argv[2], "dst", &b->dst, &b->dst_len)) return false;
  if (!get_integer(env, argv[3], "chunkSize", 1, (double)ST_MAX_CHUNK_SIZE, &chunk_size)) return false;
  if (!get_integer(env, argv[4], "firstIndex", 0, (double)(ST_MAX_CHUNKS - 1), &first_index)) return false;
  if (!ok(env, napi_typeof(env, argv[5], &t))) return false;
  if (t != napi_boolean) return type_error(env, "finalIsLast", "a boolean");
  bool final_is_last = false;
  if (!ok(env, napi_get_value_bool(env, argv[5], &final_is_last))) return false;
  if (key_len != ST_KEY_SIZE) return range_error(env, "The \"key\" argument must be 32 bytes");
  b->src = src;
  b->chunk_size = (size_t)chunk_size;
  b->first_index = (uint64_t)first_index;
  b->final_is_last = final_is_last;
  if (!check_sizes(env, op, b)) return false;
  memcpy(b->key, key, ST_KEY_SIZE);
  return true;
}

/* An Error with a `code`, to throw or to pass to a callback. */
static napi_value coded_error(napi_env env, const char *code, const char *message) {
  napi_value c, m, err;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, c, m, &err);
  return err;
}

static napi_value crypto_error(napi_env env) {
  return coded_error(env, "ERR_INTERNAL", "AES-256-GCM failed in OpenSSL");
}

/* What an async call holds until it completes: references to its arguments, and the work. */
typedef struct held {
  napi_ref refs[3];
  napi_async_work work;
} held;

static void held_release(napi_env env, held *h) {
  for (size_t i = 0; i < 3; i++)
    if (h->refs[i] != NULL) napi_delete_reference(env, h->refs[i]);
  if (h->work != NULL) napi_delete_async_work(env, h->work);
}

/* The callback held as args[2], or NULL: read before the hold is released. */
static napi_value held_callback(napi_env env, held *h) {
  napi_value cb = NULL;
  return napi_get_reference_value(env, h->refs[2], &cb) == napi_ok ? cb : NULL;
}

/* Calls `cb` (when there is one) with `argv`, as the async call's answer. */
static void call_back(napi_env env, napi_value cb, size_t argc, napi_value *argv) {
  napi_value global;
  if (cb == NULL) return;
  napi_get_global(env, &global);
  napi_call_function(env, global, cb, argc, argv, NULL);
}

/*
 * Holds args[0..2] and queues the work, named `name`; false with an exception pending on failure
 * (release what was held then). Whatever `execute` reads must be set before this is called.
 */
static bool held_queue(napi_env env, held *h, napi_value args[3], const char *name,
                       napi_async_execute_callback execute, napi_async_complete_callback complete, void *data) {
  napi_value resource;
  for (size_t i = 0; i < 3; i++)
    if (!ok(env, napi_create_reference(env, args[i], 1, &h->refs[i]))) return false;
  return ok(env, napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource)) &&
         ok(env, napi_create_async_work(env, NULL, resource, execute, complete, data, &h->work)) &&
         ok(env, napi_queue_async_work(env, h->work));
}

static napi_value run_sync(napi_env env, napi_callback_info info, op_kind op) {
  size_t argc = 6;
  napi_value argv[6], result;
  st_batch b;
  int64_t failed = -1;
  memset(&b, 0, sizeof b);
  if (!ok(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL))) return NULL;
  if (!parse_batch(env, op, argv, &b)) return NULL;
  int rc = op == OP_SEAL ? st_seal(&b) : st_open(&b, &failed);
  st_batch_wipe(&b);
  if (rc != 0) {
    napi_throw(env, crypto_error(env));
    return NULL;
  }
  if (op == OP_SEAL) {
    napi_get_undefined(env, &result);
  } else {
    napi_create_int64(env, failed, &result);
  }
  return result;
}

static napi_value seal_chunks(napi_env env, napi_callback_info info) { return run_sync(env, info, OP_SEAL); }
static napi_value open_chunks(napi_env env, napi_callback_info info) { return run_sync(env, info, OP_OPEN); }

/* An async call: the batch, its result, and what keeps src, dst and the callback alive. */
typedef struct job {
  st_batch b;
  op_kind op;
  int rc;
  int64_t failed;
  held h; /* refs: src, dst, callback */
} job;

static void job_free(napi_env env, job *j) {
  held_release(env, &j->h);
  st_batch_wipe(&j->b);
  free(j);
}

/* Threadpool: no N-API calls here. */
static void job_execute(napi_env env, void *data) {
  job *j = data;
  j->rc = j->op == OP_SEAL ? st_seal(&j->b) : st_open(&j->b, &j->failed);
  st_batch_wipe(&j->b);
}

/* Main thread: release the buffers, then call back with (err) or (null, failedIndex). */
static void job_complete(napi_env env, napi_status status, void *data) {
  job *j = data;
  napi_value argv[2];
  size_t argc = j->op == OP_SEAL ? 1 : 2;
  napi_value cb = held_callback(env, &j->h);
  napi_get_null(env, &argv[0]);
  napi_get_undefined(env, &argv[1]);
  if (status != napi_ok || j->rc != 0) {
    argv[0] = crypto_error(env);
    argc = 1;
  } else if (j->op == OP_OPEN) {
    napi_create_int64(env, j->failed, &argv[1]);
  }
  job_free(env, j);
  call_back(env, cb, argc, argv);
}

static napi_value run_async(napi_env env, napi_callback_info info, op_kind op) {
  size_t argc = 7;
  napi_value argv[7];
  napi_valuetype t;
  job *j = calloc(1, sizeof *j);
  if (j == NULL) {
    napi_throw_error(env, "ERR_INTERNAL", "Out of memory in sealtrain_native");
    return NULL;
  }
  j->op = op;
  if (!ok(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL)) || !parse_batch(env, op, argv, &j->b)) {
    job_free(env, j);
    return NULL;
  }
  napi_value held_args[3] = {argv[1], argv[2], argv[6]};
  if (!ok(env, napi_typeof(env, argv[6], &t)) || (t != napi_function && !type_error(env, "callback", "a function")) ||
      !held_queue(env, &j->h, held_args, op == OP_SEAL ? "sealtrain:sealChunks" : "sealtrain:openChunks",
                  job_execute, job_complete, j)) {
    job_free(env, j);
    return NULL;
  }
  return NULL;
}

static napi_value seal_chunks_async(napi_env env, napi_callback_info info) { return run_async(env, info, OP_SEAL); }
static napi_value open_chunks_async(napi_env env, napi_callback_info info) { return run_async(env, info, OP_OPEN); }

/* ---- SHA-256 stream ---------------------------------------------------------------------- */

/* Marks the externals made here, so that no other external passes for one. */
static const napi_type_tag SHA_TAG = {0x7365616c74726169ULL, 0x5348413235360001ULL};

typedef struct sha_state {
  EVP_MD_CTX *ctx; /* NULL once digested */
  bool busy;       /* an update is running on the threadpool */
} sha_state;

static void sha_finalize(napi_env env, void *data, void *hint) {
  sha_state *s = data;
  EVP_MD_CTX_free(s->ctx); /* OpenSSL cleanses it */
  free(s);
}

static napi_value sha_failed(napi_env env) {
  return coded_error(env, "ERR_INTERNAL", "SHA-256 failed in OpenSSL");
}

/* Wraps ctx (taking it) in a tagged external; NULL with an exception pending on failure. */
static napi_value sha_wrap(napi_env env, EVP_MD_CTX *ctx) {
  napi_value ext;
  sha_state *s = calloc(1, sizeof *s);
  if (s == NULL) {
    EVP_MD_CTX_free(ctx);
    napi_throw_error(env, "ERR_INTERNAL", "Out of memory in sealtrain_native");
    return NULL;
  }
  s->ctx = ctx;
  if (!ok(env, napi_create_external(env, s, sha_finalize, NULL, &ext))) {
    sha_finalize(env, s, NULL);
    return NULL;
  }
  if (!ok(env, napi_type_tag_object(env, ext, &SHA_TAG))) return NULL;
  return ext;
}

/* The state behind `v`, idle and not digested; throws otherwise. */
static sha_state *sha_idle(napi_env env, napi_value v) {
  napi_valuetype t;
  bool tagged = false;
  void *p = NULL;
  if (!ok(env, napi_typeof(env, v, &t))) return NULL;
  if (t != napi_external || !ok(env, napi_check_object_type_tag(env, v, &SHA_TAG, &tagged)) || !tagged) {
    type_error(env, "state", "a SHA-256 state from sha256Create");
    return NULL;
  }
  if (!ok(env, napi_get_value_external(env, v, &p))) return NULL;
  sha_state *s = p;
  if (s->busy || s->ctx == NULL) {
    napi_throw(env, coded_error(env, "ERR_INVALID_STATE",
                              s->busy ? "The SHA-256 state has an update running" : "The SHA-256 state was digested"));
    return NULL;
  }
  return s;
}

/* A new state: a copy of `from`, or a fresh one when it is NULL. */
static napi_value sha_new(napi_env env, const EVP_MD_CTX *from) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (ctx == NULL ||
      (from != NULL ? EVP_MD_CTX_copy_ex(ctx, from) : EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) != 1) {
    EVP_MD_CTX_free(ctx);
    napi_throw(env, sha_failed(env));
    return NULL;
  }
  return sha_wrap(env, ctx);
}

/* sha256Create(): a fresh state. */
static napi_value sha256_create(napi_env env, napi_callback_info info) { return sha_new(env, NULL); }

/* sha256Copy(state): a new state that has hashed what `state` has; `state` goes on. */
static napi_value sha256_copy(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (!ok(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL))) return NULL;
  sha_state *s = sha_idle(env, argv[0]); /* missing arguments are undefined */
  return s == NULL ? NULL : sha_new(env, s->ctx);
}

/* sha256Digest(state): the 32-byte digest; the state is then spent (and cleansed). */
static napi_value sha256_digest(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  void *data = NULL;
  if (!ok(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL))) return NULL;
  sha_state *s = sha_idle(env, argv[0]); /* missing arguments are undefined */
  if (s == NULL) return NULL;
  int rc = EVP_DigestFinal_ex(s->ctx, md, &len);
  EVP_MD_CTX_free(s->ctx);
  s->ctx = NULL;
  if (rc != 1 || len != 32) {
    napi_throw(env, sha_failed(env));
    return NULL;
  }
  if (!ok(env, napi_create_buffer_copy(env, len, md, &data, &out))) return NULL;
  return out;
}

typedef struct sha_job {
  sha_state *s;
  const uint8_t *data;
  size_t len;
  int rc;
  held h; /* refs: state, data, callback */
} sha_job;

static void sha_job_free(napi_env env, sha_job *j) {
  held_release(env, &j->h);
  free(j);
}

/* Threadpool: no N-API calls here. */
static void sha_job_execute(napi_env env, void *data) {
  sha_job *j = data;
  j->rc = j->len == 0 || EVP_DigestUpdate(j->s->ctx, j->data, j->len) == 1 ? 0 : -1;
}

static void sha_job_complete(napi_env env, napi_status status, void *data) {
  sha_job *j = data;
  napi_value err;
  j->s->busy = false;
  napi_value cb = held_callback(env, &j->h);
  if (status != napi_ok || j->rc != 0) err = sha_failed(env);
  else napi_get_null(env, &err);
  sha_job_free(env, j);
  call_back(env, cb, 1, &err);
}

/* A zeroed job of `size` bytes, or NULL with an error thrown. */
static void *job_alloc(napi_env env, size_t size) {
  void *j = calloc(1, size);
  if (j == NULL) napi_throw_error(env, "ERR_INTERNAL", "Out of memory in sealtrain_native");
  return j;
}

/* The bytes of `data` (named "data") and a check that `callback` is a function. */
static bool get_data_and_callback(napi_env env, napi_value data, napi_value callback, uint8_t **bytes, size_t *len) {
  napi_valuetype t;
  return get_bytes(env, data, "data", bytes, len) && ok(env, napi_typeof(env, callback, &t)) &&
         (t == napi_function || type_error(env, "callback", "a function"));
}

/*
 * sha256UpdateAsync(state, data, callback): hashes `data` into `state` on the threadpool, then
 * calls back with (null) or (error). Until then the state is busy (any other call on it throws)
 * and `data` is held: the caller must not change it.
 */
static napi_value sha256_update_async(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (!ok(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL))) return NULL;
  sha_state *s = sha_idle(env, argv[0]); /* missing arguments are undefined */
  if (s == NULL) return NULL;
  sha_job *j = job_alloc(env, sizeof *j);
  if (j == NULL) return NULL;
  j->s = s;
  uint8_t *bytes = NULL;
  if (!get_data_and_callback(env, argv[1], argv[2], &bytes, &j->len)) {
    sha_job_free(env, j);
    return NULL;
  }
  /* Set before the job is queued: the threadpool may start it at once. */
  j->data = bytes;
  s->busy = true;
  if (!held_queue(env, &j->h, argv, "sealtrain:sha256", sha_job_execute, sha_job_complete, j)) {
    s->busy = false;
    sha_job_free(env, j);
    return NULL;
  }
  return NULL;
}

typedef struct zero_job {
  uint8_t *data;
  size_t len;
  held h; /* refs: data, data, callback */
} zero_job;

/* Threadpool: no N-API calls here. explicit_bzero and OPENSSL_cleanse are never optimized away. */
static void zero_job_execute(napi_env env, void *data) {
  zero_job *j = data;
  if (j->len == 0) return;
#if defined(__GLIBC__)
  explicit_bzero(j->data, j->len);
#else
  OPENSSL_cleanse(j->data, j->len);
#endif
}

static void zero_job_complete(napi_env env, napi_status status, void *data) {
  zero_job *j = data;
  napi_value err;
  napi_value cb = held_callback(env, &j->h);
  if (status != napi_ok) err = coded_error(env, "ERR_INTERNAL", "Zeroing did not run in sealtrain_native");
  else napi_get_null(env, &err);
  held_release(env, &j->h);
  free(j);
  call_back(env, cb, 1, &err);
}

/*
 * zeroAsync(data, callback): overwrites `data` with zeros on the threadpool, then calls back with
 * (null), or with an error when the work did not run (then nothing is known to be zeroed). `data`
 * is held until then.
 */
static napi_value zero_async(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (!ok(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL))) return NULL;
  zero_job *j = job_alloc(env, sizeof *j);
  if (j == NULL) return NULL;
  uint8_t *bytes = NULL;
  if (!get_data_and_callback(env, argv[0], argv[1], &bytes, &j->len)) {
    free(j);
    return NULL;
  }
  j->data = bytes;
  napi_value held_args[3] = {argv[0], argv[0], argv[1]}; /* a hold has three slots */
  if (!held_queue(env, &j->h, held_args, "sealtrain:zero", zero_job_execute, zero_job_complete, j)) {
    held_release(env, &j->h);
    free(j);
    return NULL;
  }
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"sealChunks", NULL, seal_chunks, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openChunks", NULL, open_chunks, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sealChunksAsync", NULL, seal_chunks_async, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openChunksAsync", NULL, open_chunks_async, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sha256Create", NULL, sha256_create, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sha256UpdateAsync", NULL, sha256_update_async, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sha256Copy", NULL, sha256_copy, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sha256Digest", NULL, sha256_digest, NULL, NULL, NULL, napi_enumerable, NULL},
      {"zeroAsync", NULL, zero_async, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (!ok(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props))) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
