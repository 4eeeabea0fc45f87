import type { FileHandle } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { fromFsError } from '../../errors/index.js';

/** Where bytes come from. `read` fills `buf` completely unless the input ends first. */
export interface ByteSource {
  read(buf: Buffer): Promise<number>;
}

/** Where bytes go. `position` is absolute; stream sinks require it to be sequential. */
export interface ByteSink {
  write(buf: Buffer, position: number): Promise<void>;
  /** True when writes must be issued one after another in order (streams). */
  readonly ordered?: boolean;
}

/** Reads a file from `start` onwards with positional reads. */
export function fileSource(handle: FileHandle, start: number, name: string): ByteSource {
  let pos = start;
  return {
    async read(buf) {
      let filled = 0;
      try {
        while (filled < buf.length) {
          const { bytesRead } = await handle.read(buf, filled, buf.length - filled, pos);
          if (bytesRead === 0) break;
          filled += bytesRead;
          pos += bytesRead;
        }
      } catch (error) {
        throw fromFsError(error, 'read', name);
      }
      return filled;
    },
  };
}

/** Reads a Node stream (stdin, a pipe) into fixed-size buffers. `pushback` is read first. */
export function streamSource(stream: Readable, name: string, pushback?: Buffer): ByteSource {
  const it = stream[Symbol.asyncIterator]();
  let pending: Buffer | undefined = pushback && pushback.length > 0 ? pushback : undefined;
  let ended = false;
  return {
    async read(buf) {
      let filled = 0;
      while (filled < buf.length) {
        if (!pending) {
          if (ended) break;
          let next: IteratorResult<unknown>;
          try {
            next = await it.next();
          } catch (error) {
            throw fromFsError(error, 'read', name);
          }
          if (next.done) {
            ended = true;
            break;
          }
          pending = Buffer.isBuffer(next.value) ? next.value : Buffer.from(String(next.value));
        }
        const n = pending.copy(buf, filled);
        filled += n;
        pending = n < pending.length ? pending.subarray(n) : undefined;
      }
      return filled;
    },
  };
}

/**
 * Writes to a Node stream in order, honouring back-pressure. When the stream fails or is
 * destroyed, writes still waiting for it reject at once (a destroyed stream never calls back).
 */
export function streamSink(stream: Writable, name: string): ByteSink {
  let failure: unknown;
  const waiting = new Set<(error: unknown) => void>();
  const failAll = (error: unknown): void => {
    failure ??= error;
    for (const reject of waiting) reject(failure);
    waiting.clear();
  };
  // Without a listener a write error (EPIPE, ENOSPC on /dev/full) would crash the process;
  // it reaches the caller through the write callback or the next write instead.
  stream.on('error', failAll);
  stream.on('close', () => {
    if (waiting.size > 0) failAll(new Error('the stream was closed'));
  });
  return {
    ordered: true,
    write(buf) {
      return new Promise((resolve, reject) => {
        if (failure !== undefined) {
          reject(fromFsError(failure, 'write', name));
          return;
        }
        const fail = (error: unknown): void => {
          waiting.delete(fail);
          reject(fromFsError(error, 'write', name));
        };
        waiting.add(fail);
        const copy = Buffer.from(buf); // the caller reuses its buffer after we return
        stream.write(copy, (error) => {
          if (error) fail(error);
          else {
            waiting.delete(fail);
            resolve();
          }
        });
      });
    },
  };
}

/** A small pool of equal-sized buffers reused across batches. */
export class BufferPool {
  readonly #free: Buffer[] = [];
  readonly #all: Buffer[] = [];
  readonly #size: number;
  constructor(size: number) {
    this.#size = size;
  }
  take(): Buffer {
    const reused = this.#free.pop();
    if (reused) return reused;
    const fresh = Buffer.allocUnsafeSlow(this.#size);
    this.#all.push(fresh);
    return fresh;
  }
  give(buf: Buffer): void {
    this.#free.push(buf);
  }
  /** Zeroes every buffer the pool ever handed out (they may have held plaintext). */
  wipe(): void {
    for (const b of this.#all) b.fill(0);
    this.#all.length = 0;
    this.#free.length = 0;
  }
}
