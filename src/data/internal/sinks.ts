import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { open } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { fromFsError } from '../../errors/index.js';
import { type SealOptions, sealFile } from '../../seal/index.js';
import type { ByteSink } from '../tensor-file.js';

/**
 * How a sink ended: a plain file's SHA-256 (hashed as written; undefined when the sink was told
 * not to hash) and length, or a sealed file's body digest.
 */
export type SinkResult =
  | { readonly sealed: false; readonly sha256: string | undefined; readonly bytes: number }
  | { readonly sealed: true; readonly bodyDigest: string };

/** A byte sink and how to finish it. */
export interface OpenSink {
  readonly sink: ByteSink;
  /** Flushes, syncs and closes. */
  close(): Promise<SinkResult>;
  /** Abandons the output after an error. */
  abort(): Promise<void>;
}

/**
 * A plain file (mode 0600) in the caller's private temp folder. `hash: false` leaves the bytes
 * unhashed, for a writer that hashes them itself (a tensor file's trailer hashes every byte).
 */
export async function fileSink(path: string, options: { readonly hash?: boolean } = {}): Promise<OpenSink> {
  const handle = await open(path, 'wx', 0o600).catch((e: unknown) => {
    throw fromFsError(e, 'create', path);
  });
  const hash = options.hash === false ? undefined : createHash('sha256');
  let bytes = 0;
  // One write in flight while the caller makes the next chunk (each chunk is the sink's to keep);
  // its failure is thrown by the next call or by close().
  let writing: Promise<unknown> = Promise.resolve();
  const failed = (e: unknown): never => {
    throw fromFsError(e, 'write', path);
  };
  return {
    sink: async (chunk) => {
      await writing.catch(failed);
      const write = handle.write(chunk);
      write.catch(() => {});
      writing = write;
      hash?.update(chunk);
      bytes += chunk.length;
    },
    close: async () => {
      await writing.catch(failed);
      await handle.sync().catch(failed);
      await handle.close();
      return { sealed: false, sha256: hash?.digest('hex'), bytes };
    },
    abort: async () => {
      await writing.catch(() => {});
      await handle.close().catch(() => {});
    },
  };
}

/**
 * A sealed file fed chunk by chunk: the bytes go through a pipe straight into the sealing engine,
 * so the plaintext never touches the disk.
 */
export async function sealedSink(path: string, options: SealOptions): Promise<OpenSink> {
  const pipe = new PassThrough({ highWaterMark: 4 << 20 });
  const sealing = sealFile('-', path, { ...options, stdio: { stdin: pipe } });
  // A failure before close() must not go unhandled; close() and the sink rethrow it.
  let failure: unknown;
  sealing.catch((e: unknown) => {
    failure = e;
    pipe.destroy();
  });
  return {
    sink: async (chunk) => {
      if (failure !== undefined) throw failure;
      if (!pipe.write(chunk)) {
        await Promise.race([once(pipe, 'drain'), sealing.then(() => undefined)]);
        if (failure !== undefined) throw failure;
      }
    },
    close: async () => {
      pipe.end();
      const result = await sealing;
      return { sealed: true, bodyDigest: result.bodyDigest };
    },
    abort: async () => {
      pipe.destroy();
      await sealing.catch(() => {});
    },
  };
}
