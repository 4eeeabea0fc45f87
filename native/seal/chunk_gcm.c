/*
 * One EVP_CIPHER_CTX per batch: the key schedule is set up once, then every chunk only
 * sets a new IV. The ctx is freed (OpenSSL cleanses it) before returning.
 */
#include "chunk_gcm.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <string.h>

size_t st_seal_chunk_count(size_t src_len, size_t chunk_size) {
  if (src_len == 0) return 1;
  return src_len / chunk_size + (src_len % chunk_size != 0);
}

size_t st_open_chunk_count(size_t src_len, size_t chunk_size) {
  size_t stride = chunk_size + ST_TAG_SIZE;
  if (src_len < ST_TAG_SIZE) return 0;
  size_t n = src_len / stride + (src_len % stride != 0);
  if (src_len - (n - 1) * stride < ST_TAG_SIZE) return 0;
  return n;
}

static void zero(uint8_t *p, size_t n) {
  if (n > 0) memset(p, 0, n);
}

/* u88(index) || flag */
static void nonce_for(uint8_t iv[ST_NONCE_SIZE], uint64_t index, int final) {
  memset(iv, 0, ST_NONCE_SIZE);
  for (int i = 10; i >= 0 && index != 0; i--) {
    iv[i] = (uint8_t)(index & 0xff);
    index >>= 8;
  }
  iv[11] = final ? 0x01 : 0x00;
}

/* A ctx keyed with b->key for AES-256-GCM with 12-byte IVs, or NULL. */
static EVP_CIPHER_CTX *keyed_ctx(const st_batch *b, int enc) {
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (ctx == NULL) return NULL;
  if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, ST_NONCE_SIZE, NULL) != 1 ||
      EVP_CipherInit_ex(ctx, NULL, NULL, b->key, NULL, enc) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

static int seal_one(EVP_CIPHER_CTX *ctx, const uint8_t *in, size_t len, uint8_t *out, const uint8_t *iv) {
  uint8_t scratch[32];
  int outl = 0;
  if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv) != 1) return -1;
  if (len > 0 && (EVP_EncryptUpdate(ctx, out, &outl, in, (int)len) != 1 || (size_t)outl != len)) return -1;
  if (EVP_EncryptFinal_ex(ctx, scratch, &outl) != 1 || outl != 0) return -1;
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, ST_TAG_SIZE, out + len) != 1) return -1;
  return 0;
}

int st_seal(const st_batch *b) {
  EVP_CIPHER_CTX *ctx = keyed_ctx(b, 1);
  int rc = ctx == NULL ? -1 : 0;
  uint8_t iv[ST_NONCE_SIZE];
  for (size_t j = 0; rc == 0 && j < b->chunks; j++) {
    int last = j + 1 == b->chunks;
    size_t len = last ? b->src_len - j * b->chunk_size : b->chunk_size;
    nonce_for(iv, b->first_index + j, last && b->final_is_last);
    rc = seal_one(ctx, b->src + j * b->chunk_size, len, b->dst + j * (b->chunk_size + ST_TAG_SIZE), iv);
  }
  EVP_CIPHER_CTX_free(ctx);
  if (rc != 0) {
    zero(b->dst, b->dst_len);
    ERR_clear_error();
  }
  return rc;
}

/* 1 authentic, 0 not authentic, -1 error. Writes unauthenticated plaintext to out. */
static int open_one(EVP_CIPHER_CTX *ctx, const uint8_t *in, size_t len, uint8_t *out, const uint8_t *iv) {
  uint8_t scratch[32];
  int outl = 0;
  if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, iv) != 1) return -1;
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, ST_TAG_SIZE, (void *)(in + len)) != 1) return -1;
  if (len > 0 && (EVP_DecryptUpdate(ctx, out, &outl, in, (int)len) != 1 || (size_t)outl != len)) return -1;
  return EVP_DecryptFinal_ex(ctx, scratch, &outl) == 1 ? 1 : 0;
}

int st_open(const st_batch *b, int64_t *failed) {
  EVP_CIPHER_CTX *ctx = keyed_ctx(b, 0);
  size_t stride = b->chunk_size + ST_TAG_SIZE;
  int rc = ctx == NULL ? -1 : 1;
  size_t j = 0;
  uint8_t iv[ST_NONCE_SIZE];
  for (; rc == 1 && j < b->chunks; j++) {
    int last = j + 1 == b->chunks;
    size_t len = (last ? b->src_len - j * stride : stride) - ST_TAG_SIZE;
    nonce_for(iv, b->first_index + j, last && b->final_is_last);
    rc = open_one(ctx, b->src + j * stride, len, b->dst + j * b->chunk_size, iv);
  }
  EVP_CIPHER_CTX_free(ctx);
  *failed = -1;
  if (rc == 1) return 0;
  ERR_clear_error();
  if (rc == 0) {
    /* j was advanced past the failed chunk. */
    size_t from = (j - 1) * b->chunk_size;
    zero(b->dst + from, b->dst_len - from);
    *failed = (int64_t)(j - 1);
    return 0;
  }
  zero(b->dst, b->dst_len);
  return -1;
}

void st_batch_wipe(st_batch *b) { OPENSSL_cleanse(b->key, sizeof b->key); }
