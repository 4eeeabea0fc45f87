import type { EngineOptions } from './engine.js';
import { classifyFailure } from './engine.js';
import { TAG_SIZE } from './layout.js';

/**
 * Runs `task(batchIndex)` for every batch with up to `depth` in flight. On the first failure no
 * new batch starts, and the returned promise settles only after every running batch has ended.
 */
export async function forEachBatch(
  count: number,
  depth: number,
  task: (i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      try {
        await task(next++);
      } catch (error) {
        next = count;
        throw error;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(depth, count) }, lane));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Seals `src` into `dst` (exactly the sealed body size) with no intermediate copies. */
export async function sealInMemory(src: Uint8Array, dst: Uint8Array, opts: EngineOptions): Promise<void> {
  const cs = opts.chunkSize;
  const per = cs * opts.batchChunks;
  const batches = Math.max(1, Math.ceil(src.length / per));
  await forEachBatch(batches, opts.depth, async (i) => {
    const from = i * per;
    const len = Math.min(per, src.length - from);
    const chunks = Math.max(1, Math.ceil(len / cs));
    const at = from + i * opts.batchChunks * TAG_SIZE;
    const out = dst.subarray(at, at + len + chunks * TAG_SIZE);
    await opts.cipher.sealAsync(
      opts.key,
      src.subarray(from, from + len),
      out,
      cs,
      i * opts.batchChunks,
      i === batches - 1,
    );
  });
}

/** Opens a sealed body `src` into `dst` (exactly the plaintext size); zeroes `dst` on failure. */
export async function openInMemory(src: Uint8Array, dst: Uint8Array, opts: EngineOptions): Promise<void> {
  const cs = opts.chunkSize;
  const stride = cs + TAG_SIZE;
  const per = stride * opts.batchChunks;
  const batches = Math.max(1, Math.ceil(src.length / per));
  try {
    await forEachBatch(batches, opts.depth, async (i) => {
      const from = i * per;
      const sealed = src.subarray(from, Math.min(src.length, from + per));
      const chunks = Math.ceil(sealed.length / stride);
      const at = i * opts.batchChunks * cs;
      const out = dst.subarray(at, at + sealed.length - chunks * TAG_SIZE);
      const last = i === batches - 1;
      const failed = await opts.cipher.openAsync(opts.key, sealed, out, cs, i * opts.batchChunks, last);
      if (failed >= 0)
        throw await classifyFailure(
          opts,
          Buffer.from(sealed.buffer, sealed.byteOffset, sealed.length),
          failed,
          chunks,
          i * opts.batchChunks,
          last,
        );
    });
  } catch (error) {
    dst.fill(0);
    throw error;
  }
}
