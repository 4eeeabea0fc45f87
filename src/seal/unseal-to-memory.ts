import type { FileHandle } from 'node:fs/promises';
import { fromFsError } from '../errors/index.js';
import type { KeyProvider } from '../kms/index.js';
import { blockChunks } from './internal/body-digest.js';
import { engineOptions } from './internal/context.js';
import { classifyFailure, truncated } from './internal/engine.js';
import {
  bodyGeometry,
  bodyOffset,
  MAX_SLOT_SIZE,
  PREAMBLE_SIZE,
  parsePreamble,
  TAG_SIZE,
} from './internal/layout.js';
import { openLocalFile } from './internal/locations.js';
import { forEachBatch } from './internal/memory-engine.js';
import { type OpenedHeader, openHeader, readHeaderStructure, wipeOpened } from './internal/open-header.js';
import { unwrapWith } from './internal/recipients.js';
import { checkBodySize } from './unseal-file.js';

/** Options for {@link unsealFileToMemory}. */
export interface UnsealToMemoryOptions {
  /**
   * Providers whose keys may open the file, or their promise: the file is read ahead while the
   * keys are on their way (an attested release), and decrypted once they are there.
   */
  readonly providers: readonly KeyProvider[] | PromiseLike<readonly KeyProvider[]>;
  /** Only try these key URIs (`local:alice` or `local:alice/2`). */
  readonly keys?: readonly string[];
  /** Names the file in errors; default the path. */
  readonly name?: string;
  /** Batches read and decrypted at once (default 4). */
  readonly concurrency?: number;
}

/** Bytes read per call while the keys are awaited. */
const READ_AHEAD_BYTES = 16 * 1024 * 1024;

/** Reads into `buf` from `position` until it is full or the file ends; returns the bytes read. */
async function readFully(handle: FileHandle, buf: Buffer, position: number, name: string): Promise<number> {
  let done = 0;
  try {
    while (done < buf.length) {
      const { bytesRead } = await handle.read(buf, done, buf.length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
  } catch (error) {
    throw fromFsError(error, 'read', name);
  }
  return done;
}

/**
 * Reads the file into `out` from the start, one piece at a time, until stopped: this faults in
 * the pages of the plaintext's buffer on the thread pool and warms the page cache while nothing
 * can be decrypted yet. The bytes it leaves are ciphertext, and every one is overwritten after.
 * `stop` resolves once no read into `out` is running.
 */
function readAhead(handle: FileHandle, out: Buffer): { stop(): Promise<void> } {
  let stopped = false;
  const running = (async () => {
    for (let at = 0; at < out.length && !stopped; at += READ_AHEAD_BYTES) {
      const { bytesRead } = await handle.read(out, at, Math.min(READ_AHEAD_BYTES, out.length - at), at);
      if (bytesRead === 0) break;
    }
  })().catch(() => {}); // only a warm-up: the decryption reads again and reports any I/O error
  return {
    stop: () => {
      stopped = true;
      return running;
    },
  };
}

/** Decrypts the body of an opened file batch by batch, each straight into its place in `out`. */
async function decryptInto(
  handle: FileHandle,
  opened: OpenedHeader,
  out: Buffer,
  body: { start: number; length: number; name: string; concurrency: number | undefined },
): Promise<void> {
  const cs = opened.core.chunk_size;
  const opts = engineOptions(opened.payloadKey, cs, body.name, { concurrency: body.concurrency });
  const stride = cs + TAG_SIZE;
  const per = blockChunks(cs);
  const batches = Math.max(1, Math.ceil(body.length / (per * stride)));
  // One read buffer per batch in flight, reused: it only ever holds ciphertext.
  const free = Array.from({ length: Math.min(opts.depth, batches) }, () =>
    Buffer.allocUnsafe(Math.min(per * stride, body.length)),
  );
  await forEachBatch(batches, opts.depth, async (i) => {
    const buf = free.pop() as Buffer<ArrayBuffer>;
    try {
      const from = i * per * stride;
      const len = Math.min(per * stride, body.length - from);
      const sealed = buf.subarray(0, len);
      if ((await readFully(handle, sealed, body.start + from, body.name)) !== len) throw truncated(body.name);
      const chunks = Math.ceil(len / stride);
      const at = i * per * cs;
      const last = i === batches - 1;
      const plain = out.subarray(at, at + len - chunks * TAG_SIZE);
      const failed = await opts.cipher.openAsync(opts.key, sealed, plain, cs, i * per, last);
      if (failed >= 0) throw await classifyFailure(opts, sealed, failed, chunks, i * per, last);
    } finally {
      free.push(buf);
    }
  });
}

/**
 * The plaintext size, from the file size and the chunk size in the (not yet authenticated)
 * header; undefined when they make no sense, which is then reported once the header opens.
 */
function plaintextSizeHint(header: Buffer, bodyLength: number, name: string): number | undefined {
  try {
    const [slot] = readHeaderStructure(header, name).slots;
    return slot ? bodyGeometry(bodyLength, slot.core.chunk_size, name).plaintextLength : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Opens a local sealed file into one buffer of exactly the plaintext's size, for data that is
 * used in memory only (a training split). The sealed file itself is never held whole: while the
 * keys are awaited the file is read ahead into that buffer (see {@link readAhead}); once they are
 * there the body is read again in 4 MiB batches on the thread pool and each batch is decrypted
 * straight into its place.
 *
 * Nothing is returned unless every chunk authenticated, the final one with the final flag; on any
 * failure the buffer is zeroed before the error is thrown, so no plaintext outlives it. The
 * caller wipes the result. Throws the same errors as `unsealFile`.
 */
export async function unsealFileToMemory(path: string, options: UnsealToMemoryOptions): Promise<Buffer> {
  const name = options.name ?? path;
  // Observed at once: keys refused while the file is opened end as that refusal, not as an
  // unhandled rejection.
  const providersSoon = Promise.resolve(options.providers);
  providersSoon.catch(() => {});
  const { handle, size } = await openLocalFile(path);
  let out: Buffer | undefined;
  let warming: { stop(): Promise<void> } | undefined;
  let opened: OpenedHeader | undefined;
  try {
    const prefix = Buffer.alloc(Math.min(size, PREAMBLE_SIZE + 2 * MAX_SLOT_SIZE));
    await readFully(handle, prefix, 0, name);
    const start = bodyOffset(parsePreamble(prefix.subarray(0, PREAMBLE_SIZE), name).slotSize);
    const expected = plaintextSizeHint(prefix.subarray(0, start), size - start, name);
    if (expected !== undefined) {
      out = Buffer.allocUnsafe(expected);
      warming = readAhead(handle, out);
    }
    let providers: readonly KeyProvider[];
    try {
      providers = await providersSoon;
    } finally {
      await warming?.stop();
    }
    opened = await openHeader(prefix.subarray(0, start), name, unwrapWith(providers, options.keys));
    checkBodySize(opened, size - start, name);
    const length = bodyGeometry(size - start, opened.core.chunk_size, name).plaintextLength;
    if (out?.length !== length) {
      out?.fill(0);
      out = Buffer.allocUnsafe(length);
    }
    await decryptInto(handle, opened, out, {
      start,
      length: size - start,
      name,
      concurrency: options.concurrency,
    });
    return out;
  } catch (error) {
    out?.fill(0);
    throw error;
  } finally {
    if (opened) wipeOpened(opened);
    await handle.close();
  }
}
