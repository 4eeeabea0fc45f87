import { randomBytes } from 'node:crypto';
import { rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fromFsError, SealtrainError } from '../errors/index.js';
import type { KeyProvider } from '../kms/index.js';
import { assertAbsent, registerTempFile, syncDir } from '../store/index.js';
import { engineOptions } from './internal/context.js';
import { openBody } from './internal/engine.js';
import { type OpenedInput, openInput } from './internal/files.js';
import { streamSink } from './internal/io.js';
import { isAzUri, type StorageOptions } from './internal/locations.js';
import { type OpenedHeader, wipeOpened } from './internal/open-header.js';
import { keyUrisOf, recordSealEvent } from './internal/recipients.js';
import type { RotateOptions, RotateResult } from './rotate-file.js';
import { type SealResult, sealFile } from './seal-file.js';
import { openSealedInput } from './unseal-file.js';

/**
 * Reencrypt works on local files: an `az://` location is refused with what to do instead.
 */
function refuseBlobs(path: string, output?: string): void {
  for (const location of [path, output]) {
    if (location !== undefined && isAzUri(location))
      throw new SealtrainError(
        'ERR_USAGE_INVALID',
        `reencrypt works on local files only; ${location} is a blob: download it (for example with az storage blob download), reencrypt the local copy, and upload it again.`,
        { details: { path: location } },
      );
  }
}

/**
 * Re-encrypts a sealed file under a fresh data key. The new file is written beside the target,
 * every chunk of it is verified, and only then does it replace the target.
 */
export async function reencryptFile(path: string, options: RotateOptions): Promise<RotateResult> {
  refuseBlobs(path, options.output);
  const target = options.output ?? path;
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.reencrypt`);
  const src = await openInput(path);
  // A signal while the finished copy is checked must not leave it behind.
  const unregister = registerTempFile(temp);
  let opened: OpenedHeader | undefined;
  try {
    if (options.output !== undefined && !options.overwrite) await assertAbsent(options.output);
    opened = await openSealedInput(src, options.providers);
    const sealed = await reseal(src, opened, temp, options);
    await verifySealedFile(temp, options.providers);
    await rename(temp, target).catch((e: unknown) => {
      throw fromFsError(e, 'replace', target);
    });
    await syncDir(dirname(target));
    await recordSealEvent(options.audit, 'reencrypt', {
      path: target,
      sha256: sealed.bodyDigest,
      recipients: sealed.recipients,
    });
    return { path: target, from: opened.envelope.recipients, to: sealed.recipients };
  } catch (error) {
    await unlink(temp).catch(() => {});
    await recordSealEvent(options.audit, 'reencrypt', { path: target, error });
    throw error;
  } finally {
    unregister();
    if (opened) wipeOpened(opened);
    await src.close();
  }
}

/**
 * Decrypts the body of `src` into a pipe that a new seal to `temp` reads. When either side fails
 * the pipe is destroyed, which stops the other; both have settled (and the engine has wiped its
 * plaintext buffers) before this returns or throws the first failure.
 */
async function reseal(
  src: OpenedInput,
  opened: OpenedHeader,
  temp: string,
  options: RotateOptions,
): Promise<SealResult> {
  const pipe = new PassThrough({ highWaterMark: 4 * 1024 * 1024 });
  pipe.on('error', () => {}); // each side sees the failure through its own promise
  let failure: { error: unknown } | undefined;
  const fail = (error: unknown): never => {
    failure ??= { error };
    pipe.destroy(error instanceof Error ? error : new Error(String(error)));
    throw error;
  };
  const opts = engineOptions(opened.payloadKey, opened.core.chunk_size, src.name, {});
  const reading = openBody(src.source, streamSink(pipe, src.name), opts).then(() => {
    pipe.end();
  }, fail);
  const sealing = sealFile('-', temp, {
    recipients: options.recipients ?? keyUrisOf(opened.envelope.recipients),
    providers: options.providers,
    meta: opened.core.meta,
    chunkSize: opened.core.chunk_size,
    stdio: { stdin: pipe },
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  }).catch(fail);
  const [, sealed] = await Promise.allSettled([reading, sealing]);
  if (failure) throw failure.error;
  if (sealed.status === 'rejected') throw sealed.reason; // not reached: a rejection sets `failure`
  return sealed.value;
}

/**
 * Authenticates every chunk of a sealed file (a path or an `az://` blob) without writing
 * plaintext anywhere.
 */
export async function verifySealedFile(
  path: string,
  providers: readonly KeyProvider[],
  options: { storage?: StorageOptions } = {},
): Promise<{ plaintextLength: number; chunkCount: number }> {
  const src = await openInput(path, undefined, 0, options.storage);
  let opened: OpenedHeader | undefined;
  try {
    opened = await openSealedInput(src, providers);
    const opts = engineOptions(opened.payloadKey, opened.core.chunk_size, path, {});
    return await openBody(src.source, { write: async () => {} }, opts);
  } finally {
    if (opened) wipeOpened(opened);
    await src.close();
  }
}
