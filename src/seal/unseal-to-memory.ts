import type { FileHandle } from 'node:fs/promises';
import { fromFsError, SealtrainError } from '../errors/index.js';
import { BackgroundSha256 } from '../internal/background-sha256.js';
import { deferred } from '../internal/deferred.js';
import type { KeyProvider } from '../kms/index.js';
import { type ProgressWatch, prefixOfPieces, readFileInto } from '../store/index.js';
import { blockChunks } from './internal/body-digest.js';
import { batchDepth, engineOptions } from './internal/context.js';
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
   * Providers whose keys may open the file, or their promise: the file is read while the keys are
   * on their way (an attested release), and decrypted once they are there.
   */
  readonly providers: readonly KeyProvider[] | PromiseLike<readonly KeyProvider[]>;
  /** Only try these key URIs (`local:alice` or `local:alice/2`). */
  readonly keys?: readonly string[];
  /** Names the file in errors; default the path. */
  readonly name?: string;
  /** Batches decrypted at once (default 4): 1 uses one core. */
  readonly concurrency?: number;
  /**
   * Told of the plaintext's buffer once its size is known, it returns what to call each time the
   * plaintext [0, `end`) is final (authenticated): e.g. to hash it while later batches decrypt.
   * If the file then fails to open, the buffer is zeroed and the error thrown all the same.
   */
  readonly watch?: ProgressWatch;
  /**
   * Called with the SHA-256 (hex) of the file as stored, header and body (what a lineage
   * manifest's `sha256` of a sealed output covers), before the plaintext is returned. The stored
   * bytes are hashed on the thread pool as they are read, while the keys are still on their way,
   * and each batch's ciphertext before its plaintext is written over it.
   */
  readonly onStoredSha256?: (sha256: string) => void;
}

/** The body being read into memory, two batches at a time, which may come in out of order. */
interface BodyReader {
  /**
   * Resolves once batch `i` is in; rejects when the file cannot be read or ends early, or when the
   * reader was stopped before it.
   */
  batch(i: number): Promise<void>;
  /** Starts no further read; resolves once none is running. */
  stop(): Promise<void>;
}

/** The file as stored, hashed as it is read: its header, then the body's read prefix. */
class StoredHash {
  readonly #sha = new BackgroundSha256();
  readonly #body: Buffer;
  /** Body bytes [0, #fed) are queued. */
  #fed = 0;
  /** For each queued prefix of the body, in order: settles once it is hashed. */
  readonly #marks: { end: number; hashed: Promise<unknown> }[] = [];

  constructor(header: Buffer, body: Buffer) {
    this.#sha.update(header);
    this.#body = body;
  }

  /** Body bytes [0, `end`) are read. */
  readonly advance = (end: number): void => {
    if (end <= this.#fed) return;
    this.#sha.update(this.#body.subarray(this.#fed, end));
    this.#fed = end;
    // A mark behind this piece in the stream's queue: a decryption waits for the bytes it will
    // cover only, not for whatever was read after them.
    const hashed = this.#sha.digestSoFar();
    hashed.catch(() => {}); // a failed stream fails its digest, which the run awaits
    this.#marks.push({ end, hashed });
  };

  /** Resolves once body bytes [0, `end`) are hashed, so that they may be written over. */
  async through(end: number, reader: BodyReader, batchBytes: number): Promise<void> {
    if (end <= 0) return;
    // Every batch up to `end` read: the prefix reached it (advance is called as each one lands).
    for (let k = 0; k * batchBytes < end; k++) await reader.batch(k);
    const mark = this.#marks.find((m) => m.end >= end);
    if (!mark) throw new SealtrainError('ERR_INTERNAL', `The stored hash has no mark at ${end} bytes.`);
    await mark.hashed;
  }

  async hex(): Promise<string> {
    return (await this.#sha.digest()).toString('hex');
  }

  dispose(): void {
    this.#sha.dispose();
  }
}

/**
 * Fills `into` with the file's bytes from `start` on, one batch of `batchBytes` per read, two
 * batches at a time on the thread pool (`readFileInto`, as a plaintext input is read), telling
 * `stored` (when given) of each longer read prefix.
 */
function readBody(
  handle: FileHandle,
  into: Buffer,
  at: { start: number; batchBytes: number; name: string; stored: StoredHash | undefined },
): BodyReader {
  const count = Math.max(1, Math.ceil(into.length / at.batchBytes));
  const batches = Array.from({ length: count }, () => deferred());
  const stop = new AbortController();
  const running = readFileInto(handle, into, at.name, {
    position: at.start,
    pieceBytes: at.batchBytes,
    pieceDone: (i) => batches[i]?.resolve(),
    ...(at.stored ? { advance: at.stored.advance } : {}),
    signal: stop.signal,
    ended: () => truncated(at.name), // the file shrank since it was opened
  }).then(
    () => {
      // Every batch is in, unless stopped first: the rest then never will be (an empty body is
      // its one batch, in).
      for (const b of batches)
        if (stop.signal.aborted) b.reject(stop.signal.reason);
        else b.resolve();
    },
    (error: unknown) => {
      const failure = fromFsError(error, 'read', at.name);
      for (const b of batches) b.reject(failure); // a batch already in stays resolved
    },
  );
  return {
    batch: (i) => batches[i]?.promise ?? Promise.reject(truncated(at.name)),
    stop: () => {
      stop.abort();
      return running;
    },
  };
}

/**
 * How a body is laid out in memory to be decrypted where it lies: the ciphertext is read `offset`
 * bytes in, and each batch's plaintext goes to its place from 0. `offset` is at least one batch
 * of plaintext (or all of it), so a batch's place never reaches its own ciphertext or a later
 * batch's; it is a few batches when the file has them, so that the earlier batches whose
 * ciphertext the place covers are normally done by then (they are waited for if not).
 */
interface Layout {
  readonly chunkSize: number;
  /** Chunks per batch. */
  readonly per: number;
  /** Sealed bytes per batch. */
  readonly batchBytes: number;
  readonly batches: number;
  readonly offset: number;
  readonly plaintextLength: number;
}

function layoutFor(bodyLength: number, chunkSize: number, depth: number, name: string): Layout {
  const per = blockChunks(chunkSize);
  const batchBytes = per * (chunkSize + TAG_SIZE);
  const batches = Math.max(1, Math.ceil(bodyLength / batchBytes));
  const { plaintextLength } = bodyGeometry(bodyLength, chunkSize, name);
  const offset = Math.min(Math.min(depth, batches) * batchBytes, plaintextLength);
  return { chunkSize, per, batchBytes, batches, offset, plaintextLength };
}

/**
 * Decrypts the body read into `buf` at `layout.offset` batch by batch on the thread pool, each
 * batch straight from its ciphertext into its plaintext place (see {@link Layout}): no copy.
 */
async function openShifted(
  buf: Buffer,
  reader: BodyReader,
  opened: OpenedHeader,
  layout: Layout,
  o: Settings,
): Promise<void> {
  const { chunkSize: cs, per, batchBytes, batches, offset } = layout;
  const opts = engineOptions(opened.payloadKey, cs, o.name, { concurrency: o.concurrency });
  const bodyLength = buf.length - offset;
  const done = Array.from({ length: batches }, () => deferred());
  const total = layout.plaintextLength;
  const batchOpen = prefixOfPieces(per * cs, total, o.watch?.(buf.subarray(0, total)));
  await forEachBatch(batches, opts.depth, async (i) => {
    try {
      await reader.batch(i);
      const sealed = buf.subarray(
        offset + i * batchBytes,
        offset + Math.min(bodyLength, (i + 1) * batchBytes),
      );
      const chunks = Math.ceil(sealed.length / (cs + TAG_SIZE));
      const to = i * per * cs;
      const plain = buf.subarray(to, to + sealed.length - chunks * TAG_SIZE);
      // The place may still hold ciphertext of earlier batches: they must be opened first.
      const from = Math.max(0, Math.floor((to - offset) / batchBytes));
      const until = Math.min(i - 1, Math.ceil((to + plain.length - offset) / batchBytes) - 1);
      for (let j = from; j <= until; j++) await done[j]?.promise;
      // The stored file's hash has taken the ciphertext this plaintext is about to cover.
      await o.stored?.through(to + plain.length - offset, reader, batchBytes);
      const last = i === batches - 1;
      const failed = await opts.cipher.openAsync(opts.key, sealed, plain, cs, i * per, last);
      if (failed >= 0) throw await classifyFailure(opts, sealed, failed, chunks, i * per, last);
      done[i]?.resolve();
      batchOpen(i);
    } catch (error) {
      done[i]?.reject(error); // a later batch waiting for this one stops too
      throw error;
    }
  });
}

interface Settings {
  readonly name: string;
  readonly concurrency: number | undefined;
  readonly watch: ProgressWatch | undefined;
  readonly stored: StoredHash | undefined;
}

/**
 * The chunk size in the (not yet authenticated) header, when it and the file size make sense;
 * anything else is reported once the header has opened, as `unsealFile` does.
 */
function chunkSizeHint(header: Buffer, bodyLength: number, name: string): number | undefined {
  try {
    const [slot] = readHeaderStructure(header, name).slots;
    if (!slot) return undefined;
    bodyGeometry(bodyLength, slot.core.chunk_size, name);
    return slot.core.chunk_size;
  } catch {
    return undefined;
  }
}

/**
 * Opens a local sealed file into memory, for data that is used there only (a training split).
 * While the keys are awaited, the body is read into one buffer, a few batches (16 MiB by default)
 * from its start, so a cold file is read and the buffer's pages are touched during the wait. Once
 * the keys are there, the batches are decrypted on the thread pool straight into the front of the
 * same buffer (see {@link Layout}); the result is a view of it holding exactly the plaintext, and
 * what lies behind the view is ciphertext.
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
  const depth = batchDepth(options.concurrency);
  let body: { bytes: Buffer; layout: Layout; reader: BodyReader; stored: StoredHash | undefined } | undefined;
  let opened: OpenedHeader | undefined;
  const prefix = Buffer.alloc(Math.min(size, PREAMBLE_SIZE + 2 * MAX_SLOT_SIZE));
  const readFrom = (start: number, chunkSize: number) => {
    const layout = layoutFor(size - start, chunkSize, depth, name);
    const bytes = Buffer.allocUnsafe(layout.offset + size - start);
    const into = bytes.subarray(layout.offset);
    const stored = options.onStoredSha256 ? new StoredHash(prefix.subarray(0, start), into) : undefined;
    const reader = readBody(handle, into, { start, batchBytes: layout.batchBytes, name, stored });
    return { bytes, layout, reader, stored };
  };
  try {
    await readFully(handle, prefix, name);
    const start = bodyOffset(parsePreamble(prefix.subarray(0, PREAMBLE_SIZE), name).slotSize);
    const hint = chunkSizeHint(prefix.subarray(0, start), size - start, name);
    if (hint !== undefined) body = readFrom(start, hint);
    opened = await openHeader(prefix.subarray(0, start), name, unwrapWith(await providersSoon, options.keys));
    checkBodySize(opened, size - start, name);
    const cs = opened.core.chunk_size;
    if (!body || cs !== hint) {
      // The authenticated header is not the one peeked at: read again in its batches.
      await body?.reader.stop();
      body?.stored?.dispose();
      body = readFrom(start, cs);
    }
    await openShifted(body.bytes, body.reader, opened, body.layout, {
      name,
      concurrency: options.concurrency,
      watch: options.watch,
      stored: body.stored,
    });
    if (body.stored) options.onStoredSha256?.(await body.stored.hex());
    return body.bytes.subarray(0, body.layout.plaintextLength);
  } catch (error) {
    await body?.reader.stop();
    body?.stored?.dispose();
    body?.bytes.fill(0);
    throw error;
  } finally {
    if (opened) wipeOpened(opened);
    await handle.close();
  }
}

/** Fills `buf` from the start of the file, or as much of it as the file holds. */
async function readFully(handle: FileHandle, buf: Buffer, name: string): Promise<void> {
  try {
    for (let done = 0; done < buf.length; ) {
      const { bytesRead } = await handle.read(buf, done, buf.length - done, done);
      if (bytesRead === 0) return;
      done += bytesRead;
    }
  } catch (error) {
    throw fromFsError(error, 'read', name);
  }
}
