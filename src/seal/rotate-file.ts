import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, type FileHandle, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fromFsError, SealtrainError } from '../errors/index.js';
import type { KeyProvider, WrappedKey } from '../kms/index.js';
import { AtomicFile, assertAbsent, syncDir } from '../store/index.js';
import { engineOptions } from './internal/context.js';
import { openBody } from './internal/engine.js';
import { openInput } from './internal/files.js';
import { streamSink } from './internal/io.js';
import { PREAMBLE_SIZE, parsePreamble } from './internal/layout.js';
import { type OpenedHeader, openHeader, wipeOpened } from './internal/open-header.js';
import { type AuditContext, recordSealEvent, unwrapWith, wrapForAll } from './internal/recipients.js';
import { encodeSlot } from './internal/slot.js';
import { sealFile } from './seal-file.js';
import { openSealedInput } from './unseal-file.js';

/** Options for {@link rewrapFile} and {@link reencryptFile}. */
export interface RotateOptions {
  readonly providers: readonly KeyProvider[];
  /** New recipients; default: the file's current keys at their newest versions. */
  readonly recipients?: readonly string[];
  /** Write the result here and leave the original untouched. */
  readonly output?: string;
  readonly overwrite?: boolean;
  readonly audit?: AuditContext;
  readonly onProgress?: (bytes: number) => void;
}

/** What a rewrap or reencrypt changed. */
export interface RotateResult {
  readonly path: string;
  readonly from: readonly WrappedKey[];
  readonly to: readonly WrappedKey[];
}

const baseUris = (rs: readonly WrappedKey[]): string[] => [...new Set(rs.map((r) => r.uri))];

/**
 * Moves a sealed file to new KEK versions by rewriting only its header: the new header goes into
 * the spare slot, is synced and verified, and only then is the old slot erased. The body is not
 * read or written, so the cost does not depend on the file size.
 */
export async function rewrapFile(path: string, options: RotateOptions): Promise<RotateResult> {
  const target = options.output ?? path;
  let staged: AtomicFile | undefined;
  let opened: OpenedHeader | undefined;
  let handle: FileHandle | undefined;
  try {
    if (options.output !== undefined) {
      staged = await AtomicFile.create(options.output, { overwrite: options.overwrite ?? false });
      await copyFile(path, staged.tempPath, constants.COPYFILE_FICLONE).catch((e: unknown) => {
        throw fromFsError(e, 'copy', path);
      });
    }
    handle = await open(staged?.tempPath ?? path, 'r+').catch((e: unknown) => {
      throw fromFsError(e, 'open', path);
    });
    opened = await openHeader(await readPrefix(handle, path), path, unwrapWith(options.providers));
    const uris = options.recipients ?? baseUris(opened.envelope.recipients);
    const to = await wrapForAll(uris, options.providers, opened.dek);
    await writeSpareSlot(handle, opened, to, path);
    await handle.close();
    handle = undefined;
    await staged?.commit();
    const result = { path: target, from: opened.envelope.recipients, to };
    await recordSealEvent(options.audit, 'rewrap', { path: target, recipients: to });
    return result;
  } catch (error) {
    await recordSealEvent(options.audit, 'rewrap', { path: target, error });
    throw error;
  } finally {
    if (opened) wipeOpened(opened);
    await handle?.close();
    await staged?.abort();
  }
}

async function readPrefix(handle: FileHandle, name: string): Promise<Buffer> {
  const head = Buffer.alloc(PREAMBLE_SIZE);
  await handle.read(head, 0, PREAMBLE_SIZE, 0);
  const { slotSize } = parsePreamble(head, name);
  const prefix = Buffer.alloc(PREAMBLE_SIZE + 2 * slotSize);
  const { bytesRead } = await handle.read(prefix, 0, prefix.length, 0);
  return prefix.subarray(0, bytesRead);
}

async function writeSpareSlot(
  handle: FileHandle,
  opened: OpenedHeader,
  to: WrappedKey[],
  name: string,
): Promise<void> {
  const { slotSize } = opened.preamble;
  const spare = opened.slot.index === 0 ? 1 : 0;
  const generation = opened.slot.generation + 1n;
  const envelope = { recipients: to, length: opened.envelope.length };
  const parts = { generation, coreBytes: opened.slot.coreBytes, envelope, headerKey: opened.headerKey };
  const slot = encodeSlot(opened.preambleBytes, slotSize, parts, name);
  try {
    await handle.write(slot, 0, slotSize, PREAMBLE_SIZE + spare * slotSize);
    await handle.sync();
  } catch (error) {
    throw fromFsError(error, 'rewrite the header of', name);
  }
  const check = await openHeader(await readPrefix(handle, name), name, async (r) => {
    const mine = to.find((t) => t.uri === r.uri && t.version === r.version);
    if (!mine) throw new SealtrainError('ERR_KMS_KEY_NOT_FOUND', `${r.uri} is not a new recipient.`);
    return Buffer.from(opened.dek);
  });
  const ok = check.slot.index === spare && check.slot.generation === generation;
  wipeOpened(check);
  if (!ok)
    throw new SealtrainError(
      'ERR_IO_FAILED',
      `The new header of ${name} did not read back; the old one is kept.`,
    );
  try {
    await handle.write(Buffer.alloc(slotSize), 0, slotSize, PREAMBLE_SIZE + opened.slot.index * slotSize);
    await handle.sync();
  } catch (error) {
    throw fromFsError(error, 'erase the old header of', name);
  }
}

/**
 * Re-encrypts a sealed file under a fresh data key. The new file is written beside the target,
 * every chunk of it is verified, and only then does it replace the target.
 */
export async function reencryptFile(path: string, options: RotateOptions): Promise<RotateResult> {
  const target = options.output ?? path;
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.reencrypt`);
  const src = await openInput(path);
  let opened: OpenedHeader | undefined;
  try {
    if (options.output !== undefined && !options.overwrite) await assertAbsent(options.output);
    opened = await openSealedInput(src, options.providers);
    const recipients = options.recipients ?? baseUris(opened.envelope.recipients);
    const pipe = new PassThrough({ highWaterMark: 4 * 1024 * 1024 });
    pipe.on('error', () => {}); // a read failure ends the sealing side through its iterator
    const opts = engineOptions(opened.payloadKey, opened.core.chunk_size, path, {});
    const reading = openBody(src.source, streamSink(pipe, path), opts).finally(() => pipe.end());
    reading.catch((e: unknown) => pipe.destroy(e instanceof Error ? e : new Error(String(e))));
    const [, sealed] = await Promise.all([
      reading,
      sealFile('-', temp, {
        recipients,
        providers: options.providers,
        meta: opened.core.meta,
        chunkSize: opened.core.chunk_size,
        stdio: { stdin: pipe },
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      }),
    ]);
    await verifySealedFile(temp, options.providers);
    await rename(temp, target);
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
    if (opened) wipeOpened(opened);
    await src.close();
  }
}

/** Authenticates every chunk of a sealed file without writing plaintext anywhere. */
export async function verifySealedFile(
  path: string,
  providers: readonly KeyProvider[],
): Promise<{ plaintextLength: number; chunkCount: number }> {
  const src = await openInput(path);
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
