/**
 * The sealed-file format v1 (`docs/spec/sealed-file-v1.md`): chunked AES-256-GCM with
 * STREAM nonces under a random per-file data key, wrapped for one or more key-encryption keys.
 * Seal and unseal files, streams and buffers; read any chunk at random; rotate by rewriting
 * only the header (`rewrapFile`) or by re-encrypting (`reencryptFile`); inspect without a key.
 *
 * @module
 */

export { inspectFile, type SealedFileInfo } from './inspect-file.js';
export { bodyDigestOf } from './internal/body-digest.js';
export { chunkCipher } from './internal/context.js';
export type { SealIo } from './internal/files.js';
export type { SealMeta } from './internal/header-json.js';
export { DEFAULT_CHUNK_SIZE, DEFAULT_SLOT_SIZE, MAGIC, MAX_RECIPIENTS } from './internal/layout.js';
export type { StorageOptions } from './internal/locations.js';
export type { SealParams } from './internal/prepare.js';
export type { AuditContext } from './internal/recipients.js';
export { reencryptFile, verifySealedFile } from './reencrypt-file.js';
export { type RotateOptions, type RotateResult, rewrapFile } from './rotate-file.js';
export { type SealBufferOptions, sealBuffer, type UnsealBufferOptions, unsealBuffer } from './seal-buffer.js';
export { type SealOptions, type SealResult, sealFile } from './seal-file.js';
export { type RandomAccessSource, SealedReader } from './sealed-reader.js';
export { type UnsealOptions, type UnsealResult, unsealFile } from './unseal-file.js';
export { type UnsealToMemoryOptions, unsealFileToMemory } from './unseal-to-memory.js';
