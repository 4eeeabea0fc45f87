import { randomBytes } from 'node:crypto';
import { blockChunks } from './body-digest.js';
import { type ChunkCipher, loadChunkCipher } from './chunk-cipher.js';
import type { EngineOptions } from './engine.js';

let cipher: ChunkCipher | undefined;

/** The fastest available chunk cipher, loaded once. */
export function chunkCipher(): ChunkCipher {
  cipher ??= loadChunkCipher();
  return cipher;
}

/** Batches in flight for a `concurrency` option (default 4, from 1 to 16). */
export function batchDepth(concurrency: number | undefined): number {
  return Math.max(1, Math.min(16, Math.floor(concurrency ?? 4)));
}

/** Tuning shared by every body operation. */
export function engineOptions(
  key: Buffer,
  chunkSize: number,
  name: string,
  extra: Pick<EngineOptions, 'bodyDigest' | 'onProgress'> & { readonly concurrency?: number | undefined },
): EngineOptions {
  const { concurrency, ...rest } = extra;
  return {
    cipher: chunkCipher(),
    key,
    chunkSize,
    batchChunks: blockChunks(chunkSize), // about 4 MiB: amortises calls, stays in cache
    depth: batchDepth(concurrency),
    name,
    ...rest,
  };
}

/** Randomness source option shared by sealing functions. */
export type RandomFn = (size: number) => Buffer;

export const defaultRandom: RandomFn = (size) => randomBytes(size);
