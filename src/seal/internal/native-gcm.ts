import { loadAddon, packageFile } from '../../internal/package-root.js';

/** Where node-gyp puts the addon, relative to the package root (`binding.gyp`). */
export const NATIVE_GCM_FILE = 'build/Release/sealtrain_native.node';

/** Called when a sealing batch finishes: `err` is null on success. */
export type SealCallback = (err: Error | null) => void;

/** Called when an opening batch finishes: `failedIndex` is -1 or the first chunk that failed. */
export type OpenCallback = (err: Error | null, failedIndex?: number) => void;

/**
 * The `sealtrain_native` addon (`native/seal/`): AES-256-GCM over runs of sealed-file v1 chunks
 * with the OpenSSL inside the running `node`, writing into caller-provided buffers.
 *
 * Every function takes `(key, src, dst, chunkSize, firstIndex, finalIsLast)`: a 32-byte key;
 * `src` and `dst` that must not overlap; `chunkSize` from 1 to 2^30; chunk `j` of the batch has
 * index `firstIndex + j`, and all indices stay below 2^32; only the batch's last chunk carries the
 * final flag, and only when `finalIsLast`. Bad arguments throw synchronously (TypeError with code
 * `ERR_INVALID_ARG_TYPE`, RangeError with code `ERR_OUT_OF_RANGE`), also for the async variants.
 * The async variants run on the libuv threadpool and hold `src` and `dst` until the callback;
 * the caller must not read, write, transfer or resize either buffer before then.
 */
export interface NativeGcm {
  /** Seals `ceil(src.length / chunkSize)` chunks (one when `src` is empty) into `dst`, which must be `src.length + 16·n` bytes. */
  sealChunks(
    key: Uint8Array,
    src: Uint8Array,
    dst: Uint8Array,
    chunkSize: number,
    firstIndex: number,
    finalIsLast: boolean,
  ): void;
  /**
   * Opens sealed chunks of `chunkSize + 16` bytes (the last one at least 16) into `dst`, which
   * must be `src.length − 16·n` bytes. Returns -1 when all authenticate, else the batch index of
   * the first that did not; `dst` is zero from that chunk on.
   */
  openChunks(
    key: Uint8Array,
    src: Uint8Array,
    dst: Uint8Array,
    chunkSize: number,
    firstIndex: number,
    finalIsLast: boolean,
  ): number;
  /** {@link NativeGcm.sealChunks} on the threadpool. */
  sealChunksAsync(
    key: Uint8Array,
    src: Uint8Array,
    dst: Uint8Array,
    chunkSize: number,
    firstIndex: number,
    finalIsLast: boolean,
    callback: SealCallback,
  ): void;
  /** {@link NativeGcm.openChunks} on the threadpool. */
  openChunksAsync(
    key: Uint8Array,
    src: Uint8Array,
    dst: Uint8Array,
    chunkSize: number,
    firstIndex: number,
    finalIsLast: boolean,
    callback: OpenCallback,
  ): void;
}

const EXPORTS = ['sealChunks', 'openChunks', 'sealChunksAsync', 'openChunksAsync'] as const;

/** The absolute path the addon is loaded from. */
export function nativeGcmPath(): string {
  return packageFile(import.meta.url, NATIVE_GCM_FILE);
}

let loaded: NativeGcm | undefined;

/** Loads the addon; throws when it is missing, fails to load, or lacks an export. */
export function loadNativeGcm(): NativeGcm {
  loaded ??= loadAddon<NativeGcm>(import.meta.url, NATIVE_GCM_FILE, 'native AES-GCM addon', EXPORTS);
  return loaded;
}

/** The addon, or undefined when it cannot be loaded (not built, or a platform without a build). */
export function tryLoadNativeGcm(): NativeGcm | undefined {
  try {
    return loadNativeGcm();
  } catch {
    return undefined;
  }
}
