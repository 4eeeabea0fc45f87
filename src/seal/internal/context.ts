import { randomBytes } from 'node:crypto';
import { type ChunkCipher, loadChunkCipher } from './chunk-cipher.js';
import type { EngineOptions } from './engine.js';

let cipher: ChunkCipher | undefined;

/** The fastest available chunk cipher, loaded once. */
export function chunkCipher(): ChunkCipher {
  cipher ??= loadChunkCipher();
  return cipher;
}

/** About 4 MiB per batch: big enough to amortise calls, small enough to stay in cache. */
const BATCH_BYTES = 4 * 1024 * 1024;

/** Tuning shared by every body operation. */
export function engineOptions(
  key: Buffer,
  chunkSize: number,
  name: string,
  extra: Pick<EngineOptions, 'bodyHash' | 'onProgress'> & { readonly concurrency?: number | undefined },
): EngineOptions {
  const { concurrency, ...rest } = extra;
  return {
    cipher: chunkCipher(),
    key,
    chunkSize,
    batchChunks: Math.max(1, Math.floor(BATCH_BYTES / chunkSize)),
    depth: Math.max(1, Math.min(16, Math.floor(concurrency ?? 4))),
    name,
    ...rest,
  };
}

/** Randomness source option shared by sealing functions. */
export type RandomFn = (size: number) => Buffer;

export const defaultRandom: RandomFn = (size) => randomBytes(size);
