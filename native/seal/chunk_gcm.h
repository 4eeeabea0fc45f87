/*
 * AES-256-GCM over a batch of sealed-file v1 STREAM chunks (docs/spec/sealed-file-v1.md).
 *
 * Chunk i has nonce u88(i) || flag, flag = 0x01 for the final chunk of the file, and no AAD.
 * Sealed chunks are ciphertext || 16-byte tag, back to back. No N-API here: these functions
 * run on the libuv threadpool.
 */
#ifndef SEALTRAIN_CHUNK_GCM_H
#define SEALTRAIN_CHUNK_GCM_H

#include <stddef.h>
#include <stdint.h>

#define ST_KEY_SIZE 32
#define ST_TAG_SIZE 16
#define ST_NONCE_SIZE 12
/* Largest chunk size accepted: keeps every length an int for EVP_*Update. */
#define ST_MAX_CHUNK_SIZE ((size_t)1 << 30)
/* Chunk indices are below 2^32 (spec limit). */
#define ST_MAX_CHUNKS ((uint64_t)1 << 32)

/* One batch of consecutive chunks. The caller checks the sizes (st_*_chunk_count). */
typedef struct st_batch {
  uint8_t key[ST_KEY_SIZE];
  const uint8_t *src;
  size_t src_len;
  uint8_t *dst;
  size_t dst_len;
  size_t chunk_size;
  uint64_t first_index;
  int final_is_last;
  size_t chunks;
} st_batch;

/* Chunks in a plaintext batch of src_len bytes (an empty batch is one empty chunk). */
size_t st_seal_chunk_count(size_t src_len, size_t chunk_size);

/* Chunks in a sealed batch of src_len bytes; 0 when the last chunk is shorter than a tag. */
size_t st_open_chunk_count(size_t src_len, size_t chunk_size);

/* Seals b->src into b->dst. Returns 0, or -1 on an OpenSSL error (dst is then zeroed). */
int st_seal(const st_batch *b);

/*
 * Opens b->src into b->dst. Returns 0 and sets *failed to -1 when every chunk authenticates,
 * or to the batch-relative index of the first chunk that did not; dst is zeroed from that
 * chunk to its end. Returns -1 on an OpenSSL error (dst is then zeroed entirely).
 */
int st_open(const st_batch *b, int64_t *failed);

/* Wipes the key copy in b. */
void st_batch_wipe(st_batch *b);

#endif
