import { SealtrainError } from '../../errors/index.js';
import type { BodyDigest } from './body-digest.js';
import type { ChunkCipher } from './chunk-cipher.js';
import { BufferPool, type ByteSink, type ByteSource } from './io.js';
import { MAX_CHUNKS, TAG_SIZE } from './layout.js';

/** How the body engine runs. */
export interface EngineOptions {
  readonly cipher: ChunkCipher;
  readonly key: Buffer;
  readonly chunkSize: number;
  /** Chunks per batch (one read, one cipher call, one write). */
  readonly batchChunks: number;
  /** Batches in flight at once; 2 or more overlap I/O with crypto and use both cores. */
  readonly depth: number;
  /** Receives every block of sealed body bytes (written or read). */
  readonly bodyDigest?: BodyDigest;
  /** Called with the number of input bytes consumed so far. */
  readonly onProgress?: (bytes: number) => void;
  /** Names the file in errors. */
  readonly name: string;
}

interface Batch {
  readonly src: Buffer;
  readonly len: number;
  readonly last: boolean;
}

/**
 * Runs `transform` over fixed-size batches of `source` with up to `depth` batches in flight.
 * Each batch's sealed bytes go to the body digest; writes go out as soon as their batch is ready
 * (positional sinks) or in order (`sink.ordered`). The last batch is known by reading one ahead.
 */
async function pipeline(
  source: ByteSource,
  inSize: number,
  opts: EngineOptions,
  transform: (batch: Batch, dst: Buffer, index: number) => Promise<Buffer>,
  write: (out: Buffer, index: number) => Promise<void>,
  sizes: { outSize: number; hash: 'in' | 'out'; ordered: boolean },
): Promise<number> {
  const inPool = new BufferPool(inSize);
  const outPool = new BufferPool(sizes.outSize);
  const inflight: Promise<void>[] = [];
  // Every batch until all its steps settle (cipher call, hash, write): `complete` can reject
  // early (an earlier ordered write failed) while this batch's cipher still runs on pool buffers.
  const running = new Set<Promise<unknown>>();
  let writeTail: Promise<void> = Promise.resolve();
  let consumed = 0;
  let cur = inPool.take();
  let curLen = 0;
  let index = 0;
  try {
    curLen = await source.read(cur);
    for (;;) {
      let next: Buffer | undefined;
      let nextLen = 0;
      if (curLen === inSize) {
        next = inPool.take();
        nextLen = await source.read(next);
      }
      const batch = { src: cur, len: curLen, last: nextLen === 0 };
      const dst = outPool.take();
      const i = index++;
      const done = transform(batch, dst, i);
      const hashed = done.then((out) =>
        opts.bodyDigest?.add(i, sizes.hash === 'out' ? out : batch.src.subarray(0, batch.len)),
      );
      const written = (sizes.ordered ? writeTail : Promise.resolve())
        .then(() => done)
        .then((out) => write(out, i));
      if (sizes.ordered) writeTail = written;
      const complete = Promise.all([hashed, written]).then(() => {
        inPool.give(batch.src);
        outPool.give(dst);
        consumed += batch.len;
        opts.onProgress?.(consumed);
      });
      complete.catch(() => {}); // awaited below; this only keeps an early failure from being unhandled
      inflight.push(complete);
      const settled = Promise.allSettled([done, hashed, written, complete]);
      running.add(settled);
      void settled.then(() => running.delete(settled));
      if (batch.last || !next) break;
      if (inflight.length >= opts.depth) await inflight.shift();
      cur = next;
      curLen = nextLen;
    }
    await Promise.all(inflight);
    return index;
  } finally {
    await Promise.all([...running]);
    inPool.wipe();
    outPool.wipe();
  }
}

/** Encrypts `source` into chunks written to `sink` from `bodyStart`. Returns the plaintext length. */
export async function sealBody(
  source: ByteSource,
  sink: ByteSink,
  bodyStart: number,
  opts: EngineOptions,
): Promise<{ plaintextLength: number; chunkCount: number }> {
  const cs = opts.chunkSize;
  const inSize = cs * opts.batchChunks;
  let plaintextLength = 0;
  let chunkCount = 0;
  await pipeline(
    source,
    inSize,
    opts,
    async (batch, dst, i) => {
      const chunks = Math.max(1, Math.ceil(batch.len / cs));
      const first = i * opts.batchChunks;
      if (first + chunks > MAX_CHUNKS) {
        throw new SealtrainError(
          'ERR_SEAL_LIMIT',
          `Input for ${opts.name} exceeds 2^32 chunks; use a larger --chunk-size.`,
        );
      }
      const out = dst.subarray(0, batch.len + chunks * TAG_SIZE);
      await opts.cipher.sealAsync(opts.key, batch.src.subarray(0, batch.len), out, cs, first, batch.last);
      plaintextLength += batch.len;
      chunkCount += chunks;
      return out;
    },
    (out, i) => sink.write(out, bodyStart + i * (inSize + opts.batchChunks * TAG_SIZE)),
    { outSize: inSize + opts.batchChunks * TAG_SIZE, hash: 'out', ordered: sink.ordered ?? false },
  );
  return { plaintextLength, chunkCount };
}

/** Decrypts a body from `source` to `sink` (positions from 0). Throws on any failed chunk. */
export async function openBody(
  source: ByteSource,
  sink: ByteSink,
  opts: EngineOptions,
): Promise<{ plaintextLength: number; chunkCount: number }> {
  const cs = opts.chunkSize;
  const stride = cs + TAG_SIZE;
  const inSize = stride * opts.batchChunks;
  let plaintextLength = 0;
  let chunkCount = 0;
  await pipeline(
    source,
    inSize,
    opts,
    async (batch, dst, i) => {
      const sealed = batch.src.subarray(0, batch.len);
      const chunks = Math.ceil(batch.len / stride);
      const lastSize = batch.len - (chunks - 1) * stride;
      if (chunks === 0 || lastSize < TAG_SIZE || (lastSize === TAG_SIZE && (i > 0 || chunks > 1))) {
        throw truncated(opts.name);
      }
      const out = dst.subarray(0, batch.len - chunks * TAG_SIZE);
      const first = i * opts.batchChunks;
      const failed = await opts.cipher.openAsync(opts.key, sealed, out, cs, first, batch.last);
      if (failed >= 0) {
        out.fill(0);
        throw await classifyFailure(opts, sealed, failed, chunks, first, batch.last);
      }
      plaintextLength += out.length;
      chunkCount += chunks;
      return out;
    },
    (out, i) => sink.write(out, i * opts.batchChunks * cs),
    { outSize: inSize, hash: 'in', ordered: sink.ordered ?? false },
  );
  return { plaintextLength, chunkCount };
}

/** A final chunk that opens as a non-final one means the file was cut at a chunk boundary. */
export async function classifyFailure(
  opts: EngineOptions,
  sealed: Buffer,
  failed: number,
  chunks: number,
  first: number,
  last: boolean,
): Promise<SealtrainError> {
  if (last && failed === chunks - 1) {
    const stride = opts.chunkSize + TAG_SIZE;
    const chunk = sealed.subarray(failed * stride);
    const scratch = Buffer.alloc(chunk.length - TAG_SIZE);
    const again = opts.cipher.open(opts.key, chunk, scratch, opts.chunkSize, first + failed, false);
    scratch.fill(0);
    if (again < 0) return truncated(opts.name);
  }
  return new SealtrainError(
    'ERR_SEAL_DECRYPT_FAILED',
    `Cannot decrypt ${opts.name}: the file was modified or damaged.`,
    { details: { path: opts.name } },
  );
}

/** The error for a body that ends early. */
export function truncated(name: string): SealtrainError {
  return new SealtrainError('ERR_SEAL_TRUNCATED', `${name} is truncated: its last chunk is missing or cut.`, {
    details: { path: name },
  });
}
