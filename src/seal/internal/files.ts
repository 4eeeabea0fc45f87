import { type FileHandle, open } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { fromFsError, SealtrainError } from '../../errors/index.js';
import { type ByteSource, fileSource, streamSource } from './io.js';

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

/** Opens `input` (a path or `-`) for sequential reading from `start`. */
export async function openInput(input: string, stdio?: SealIo, start = 0): Promise<OpenedInput> {
  if (input === '-') {
    return {
      source: streamSource(stdio?.stdin ?? process.stdin, 'standard input'),
      name: 'standard input',
      close: async () => {},
    };
  }
  let handle: FileHandle;
  try {
    handle = await open(input, 'r');
  } catch (error) {
    throw fromFsError(error, 'read', input);
  }
  const stat = await handle.stat();
  if (stat.isDirectory()) {
    await handle.close();
    throw new SealtrainError('ERR_USAGE_INVALID', `Cannot read ${input}: it is a folder, not a file.`, {
      details: { path: input },
    });
  }
  return {
    source: fileSource(handle, start, input),
    name: input,
    handle,
    size: stat.size,
    close: () => handle.close(),
  };
}

/** Reads exactly `size` bytes from a source; a short read means the input ended. */
export async function readExactly(source: ByteSource, size: number): Promise<Buffer> {
  const buf = Buffer.alloc(size);
  const n = await source.read(buf);
  return n === size ? buf : buf.subarray(0, n);
}
