import type { FileHandle } from 'node:fs/promises';
import { fromFsError, SealtrainError } from '../../errors/index.js';
import { AtomicFile, BlobStore, type BlobStoreOptions, openRegular } from '../../store/index.js';
import type { ByteSource } from './io.js';

/**
 * How `az://` locations are reached: a connection string or an Entra ID credential, block size
 * and parallelism. Paths that are not `az://` URIs are local files.
 */
export type StorageOptions = BlobStoreOptions;

/** True for `az://account/container/path` locations. */
export function isAzUri(location: string): boolean {
  return location.startsWith('az://');
}

/** Random access to an artifact's bytes: `read` returns exactly `length` bytes or throws. */
export interface RandomAccessSource {
  /** Names the artifact in errors (a path or an `az://` URI). */
  readonly name: string;
  /** The artifact's size in bytes. */
  readonly size: number;
  /** A blob's etag when it was opened. */
  readonly etag?: string;
  /** A blob's user metadata. */
  readonly metadata?: Readonly<Record<string, string>>;
  read(position: number, length: number): Promise<Uint8Array>;
  close?(): Promise<void>;
}

function endsEarly(name: string): SealtrainError {
  return new SealtrainError('ERR_SEAL_TRUNCATED', `Cannot read ${name}: it ends early.`, {
    details: { path: name },
  });
}

/**
 * Opens a local file for reading, refusing folders, and anything else that is not a regular file
 * (a named pipe, a device) without waiting on it.
 */
export function openLocalFile(path: string): Promise<{ handle: FileHandle; size: number }> {
  return openRegular(path, 'read', { folder: 'usage' });
}

/** A local file as a {@link RandomAccessSource}. */
export function fileAt(handle: FileHandle, size: number, path: string): RandomAccessSource {
  return {
    name: path,
    size,
    async read(position, length) {
      const buf = Buffer.alloc(length);
      let done = 0;
      try {
        while (done < length) {
          const { bytesRead } = await handle.read(buf, done, length - done, position + done);
          if (bytesRead === 0) throw endsEarly(path);
          done += bytesRead;
        }
      } catch (error) {
        throw error instanceof SealtrainError ? error : fromFsError(error, 'read', path);
      }
      return buf;
    },
    close: () => handle.close(),
  };
}

/** The blob an `az://account/container/path` URI names, in its container's store. */
export function blobAt(uri: string, storage: StorageOptions = {}): { store: BlobStore; path: string } {
  const { store, path } = BlobStore.at(uri, storage);
  if (path === '')
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `${uri} names a container, not a blob: add the blob's path, e.g. ${uri.replace(/\/$/, '')}/data.sealed.`,
      { details: { uri } },
    );
  return { store, path };
}

/** Opens a local file or an `az://` blob for random access (a blob: one ranged GET per read). */
export async function openRandomAccess(
  location: string,
  storage?: StorageOptions,
): Promise<RandomAccessSource> {
  if (!isAzUri(location)) {
    const { handle, size } = await openLocalFile(location);
    return fileAt(handle, size, location);
  }
  const { store, path } = blobAt(location, storage);
  const info = await store.stat(path);
  if (info === undefined)
    throw new SealtrainError('ERR_IO_NOT_FOUND', `Cannot read ${location}: no such blob.`, {
      details: { uri: location },
    });
  return {
    name: location,
    size: info.size,
    etag: info.etag,
    metadata: info.metadata,
    // Every range from the version opened: a blob replaced mid-read fails instead of mixing.
    read: (position, length) => store.getRange(path, position, length, { ifMatch: info.etag }),
  };
}

/**
 * Reads `[start, end)` of a random-access source in order, keeping `depth` ranged reads of
 * `partSize` in flight, so a remote artifact streams at the speed of several connections. Each
 * part is zeroed once it has been read out.
 */
export function readAhead(
  src: RandomAccessSource,
  start: number,
  partSize = 8 * 1024 * 1024,
  depth = 4,
): ByteSource {
  const queue: Promise<Uint8Array>[] = [];
  let next = start;
  let current: Buffer = Buffer.alloc(0);
  let whole: Buffer | undefined;
  const refill = (): void => {
    while (queue.length < depth && next < src.size) {
      const length = Math.min(partSize, src.size - next);
      const part = src.read(next, length);
      part.catch(() => {}); // awaited in turn below; an early failure must not go unhandled
      queue.push(part);
      next += length;
    }
  };
  return {
    async read(buf) {
      let filled = 0;
      while (filled < buf.length) {
        if (current.length === 0) {
          whole?.fill(0); // a consumed part may have held plaintext (sealing from a blob)
          whole = undefined;
          refill();
          const part = queue.shift();
          if (part === undefined) break;
          const bytes = await part;
          whole = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
          current = whole;
          refill();
        }
        const n = current.copy(buf, filled);
        filled += n;
        current = current.subarray(n);
      }
      return filled;
    },
  };
}

/** Where a sealed or unsealed artifact is written: nothing is visible until `commit`. */
export interface OutputTarget {
  write(buf: Uint8Array, position: number): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * Opens `output` (a local path or an `az://` blob) for positional writes. An existing output is
 * refused unless `overwrite`; a blob is refused before any byte is sent. `blob.ifMatch` commits a
 * blob only if its etag is unchanged.
 */
export async function openOutput(
  output: string,
  overwrite: boolean,
  storage?: StorageOptions,
  blob: { ifMatch?: string; metadata?: Readonly<Record<string, string>> } = {},
): Promise<OutputTarget> {
  if (!isAzUri(output)) {
    const file = await AtomicFile.create(output, { overwrite });
    return {
      write: (buf, position) => file.write(buf, position),
      commit: () => file.commit(),
      abort: () => file.abort(),
    };
  }
  const { store, path } = blobAt(output, storage);
  const writer = await store.create(path, { ifNoneMatch: !overwrite, ...blob });
  return {
    write: (buf, position) => writer.write(buf, position),
    commit: async () => {
      await writer.commit();
    },
    abort: () => writer.abort(),
  };
}
