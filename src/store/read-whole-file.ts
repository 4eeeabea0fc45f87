import { type FileHandle, open, readFile } from 'node:fs/promises';
import { fromFsError, SealtrainError } from '../errors/index.js';

/** The size of each read {@link readWholeFile} hands to the thread pool. */
const PIECE_BYTES = 16 * 1024 * 1024;

/**
 * Reads {@link readFileInto} keeps in flight: two copy and fault the pages in on two cores, and the
 * thread pool's other threads (libuv has four by default; the CLI asks for eight) are left to the
 * small file operations that would otherwise queue behind every piece of a large input: while a
 * sealed input is read ahead, the attestation's key files and its audit record.
 */
const READS_IN_FLIGHT = 2;

/**
 * Reads a local file into a buffer of its own, in 16 MiB pieces read two at a time on the thread
 * pool: several times faster than `fs.readFile` (which reads 512 KiB at a time, one after another)
 * for the files a run loads, hundreds of MiB of tensors. A regular file is read at the size it had
 * when it was opened, and one that shrinks meanwhile is an error; anything else (a pipe) is read
 * to its end.
 *
 * @throws {SealtrainError} the file-system error as `fromFsError` names it (`ERR_IO_NOT_FOUND`,
 *   `ERR_IO_FAILED` for a file too large for one buffer, …), or `ERR_IO_CHANGED` when the file
 *   ends early.
 */
export async function readWholeFile(
  path: string,
  options: { readonly watch?: ProgressWatch } = {},
): Promise<Buffer> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw fromFsError(error, 'open', path);
  }
  let bytes: Buffer | undefined;
  try {
    const info = await handle.stat();
    if (!info.isFile()) return await readFile(handle);
    // Not from the shared pool: the caller wipes this buffer, and nothing else lives in it.
    bytes = Buffer.allocUnsafeSlow(info.size);
    const advance = options.watch?.(bytes);
    await readFileInto(handle, bytes, path, advance ? { advance } : {});
    return bytes;
  } catch (error) {
    bytes?.fill(0);
    throw fromFsError(error, 'read', path);
  } finally {
    await handle.close().catch(() => {}); // read-only: nothing to lose, and the read's error comes first
  }
}

/**
 * Told of a buffer being filled front to back (`watch(buffer)`), it returns what to call each
 * time the bytes [0, `end`) have become final: e.g. to hash them while the rest is on its way.
 */
export type ProgressWatch = (buffer: Buffer) => (end: number) => void;

/**
 * For work done in pieces of `size` bytes that finish in any order: the returned function marks
 * piece `i` done and, when that grows the run of done pieces from the start, calls `advance` with
 * where the run now ends (at most `total`).
 */
export function prefixOfPieces(
  size: number,
  total: number,
  advance: ((end: number) => void) | undefined,
): (i: number) => void {
  const done: boolean[] = [];
  let prefix = 0; // pieces [0, prefix) are done
  return (i) => {
    done[i] = true;
    if (i !== prefix) return;
    while (done[prefix]) prefix++;
    advance?.(Math.min(total, prefix * size));
  };
}

/** Options for {@link readFileInto}. */
export interface ReadIntoOptions {
  /** Where in the file `target[0]` lies (default 0, its start). */
  readonly position?: number;
  /** The size of each read handed to the thread pool (default 16 MiB). */
  readonly pieceBytes?: number;
  /** Called with the end of the longest filled prefix each time it grows. */
  readonly advance?: (end: number) => void;
  /** Called once piece `i` (`target[i * pieceBytes, …)`) is filled, in any order. */
  readonly pieceDone?: (i: number) => void;
  /** Once aborted, no further read starts; the promise still settles only when none is running. */
  readonly signal?: AbortSignal;
  /** The error for a file that ends before `target` is full (default `ERR_IO_CHANGED` naming `path`). */
  readonly ended?: () => Error;
}

/**
 * Fills `target` with the open file's bytes from `position` on, in pieces (16 MiB by default) read
 * two at a time on the thread pool ({@link READS_IN_FLIGHT}). Every read has ended when this
 * settles, whichever failed first.
 *
 * @throws {SealtrainError} `ERR_IO_CHANGED` naming `path` (or `ended()`) when the file ends before
 *   `target` is full; a file-system error as it came (the caller names it).
 */
export async function readFileInto(
  handle: FileHandle,
  target: Uint8Array,
  path: string,
  options: ReadIntoOptions = {},
): Promise<void> {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('readFileInto: the fourth argument is an options object ({ advance, … }).');
  const { position = 0, pieceBytes = PIECE_BYTES, signal } = options;
  if (!Number.isSafeInteger(pieceBytes) || pieceBytes < 1)
    throw new RangeError(`readFileInto: pieceBytes is ${pieceBytes}, not a positive integer.`);
  if (!Number.isSafeInteger(position) || position < 0)
    throw new RangeError(`readFileInto: position is ${position}, not a non-negative integer.`);
  const ended =
    options.ended ??
    (() =>
      new SealtrainError(
        'ERR_IO_CHANGED',
        `${path} became shorter while it was read (${target.length} bytes expected): read it again once nothing writes to it.`,
        { details: { path } },
      ));
  const prefixDone = prefixOfPieces(pieceBytes, target.length, options.advance);
  const count = Math.ceil(target.length / pieceBytes);
  let next = 0;
  let failure: { error: unknown } | undefined;
  // READS_IN_FLIGHT readers, each taking the next piece until none is left or one read failed.
  const reader = async () => {
    for (let i = next++; i < count && !failure && !signal?.aborted; i = next++) {
      const from = i * pieceBytes;
      const end = Math.min(target.length, from + pieceBytes);
      try {
        for (let done = from; done < end && !signal?.aborted; ) {
          const { bytesRead } = await handle.read(target, done, end - done, position + done);
          if (bytesRead === 0) throw ended();
          done += bytesRead;
          if (done === end) {
            options.pieceDone?.(i);
            prefixDone(i);
          }
        }
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(count, READS_IN_FLIGHT) }, reader));
  if (failure) throw failure.error;
}
