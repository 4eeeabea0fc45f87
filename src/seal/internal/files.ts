import type { FileHandle } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { type ByteSource, fileSource, streamSource } from './io.js';
import { isAzUri, openLocalFile, openRandomAccess, readAhead, type StorageOptions } from './locations.js';

/** Streams that stand for `-`; default process.stdin and process.stdout. */
export interface SealIo {
  readonly stdin?: Readable;
  readonly stdout?: Writable;
}

/** An opened input: a file (with its size) or a stream. */
export interface OpenedInput {
  readonly source: ByteSource;
  readonly name: string;
  readonly handle?: FileHandle;
  readonly size?: number;
  close(): Promise<void>;
}

/**
 * Opens `input` (a path, an `az://` blob, or `-`) for sequential reading from `start`. A blob is
 * read with parallel ranged GETs.
 */
export async function openInput(
  input: string,
  stdio?: SealIo,
  start = 0,
  storage?: StorageOptions,
): Promise<OpenedInput> {
  if (input === '-') {
    return {
      source: streamSource(stdio?.stdin ?? process.stdin, 'standard input'),
      name: 'standard input',
      close: async () => {},
    };
  }
  if (isAzUri(input)) {
    const blob = await openRandomAccess(input, storage);
    return { source: readAhead(blob, start), name: input, size: blob.size, close: async () => {} };
  }
  const { handle, size } = await openLocalFile(input);
  return { source: fileSource(handle, start, input), name: input, handle, size, close: () => handle.close() };
}

/** Reads exactly `size` bytes from a source; a short read means the input ended. */
export async function readExactly(source: ByteSource, size: number): Promise<Buffer> {
  const buf = Buffer.alloc(size);
  const n = await source.read(buf);
  return n === size ? buf : buf.subarray(0, n);
}
