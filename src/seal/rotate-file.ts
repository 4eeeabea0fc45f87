import { timingSafeEqual } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, type FileHandle, open } from 'node:fs/promises';
import { fromFsError, SealtrainError } from '../errors/index.js';
import type { KeyProvider, WrappedKey } from '../kms/index.js';
import { AtomicFile } from '../store/index.js';
import { bodyOffset, MAX_SLOT_SIZE, PREAMBLE_SIZE, parsePreamble } from './internal/layout.js';
import {
  blobAt,
  isAzUri,
  type OutputTarget,
  openOutput,
  openRandomAccess,
  readAhead,
  type StorageOptions,
} from './internal/locations.js';
import { type OpenedHeader, openHeader, readHeaderStructure, wipeOpened } from './internal/open-header.js';
import {
  type AuditContext,
  keyUrisOf,
  recordSealEvent,
  unwrapWith,
  wrapForAll,
} from './internal/recipients.js';
import { encodeSlot, slotAuthentic } from './internal/slot.js';
import { checkBodySize } from './unseal-file.js';

/** Options for {@link rewrapFile} and `reencryptFile`. */
export interface RotateOptions {
  readonly providers: readonly KeyProvider[];
  /** New recipients; default: the file's current keys at their newest versions. */
  readonly recipients?: readonly string[];
  /** Write the result here and leave the original untouched. */
  readonly output?: string;
  readonly overwrite?: boolean;
  readonly audit?: AuditContext;
  readonly onProgress?: (bytes: number) => void;
  /** How `az://` locations are reached. */
  readonly storage?: StorageOptions;
}

/** What a rewrap or reencrypt changed. */
export interface RotateResult {
  readonly path: string;
  readonly from: readonly WrappedKey[];
  readonly to: readonly WrappedKey[];
}

/**
 * Moves a sealed file to new KEK versions by rewriting only its header: the new header goes into
 * the spare slot, is synced and verified, and only then is the old slot erased. The body is not
 * read or written, so the cost does not depend on the file size.
 */
export async function rewrapFile(path: string, options: RotateOptions): Promise<RotateResult> {
  if (isAzUri(path) || (options.output !== undefined && isAzUri(options.output)))
    return rewrapRemote(path, options);
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
    // A damaged file is refused before its header is touched.
    checkBodySize(opened, (await handle.stat()).size - bodyOffset(opened.preamble.slotSize), path);
    const uris = options.recipients ?? keyUrisOf(opened.envelope.recipients);
    const to = await wrapForAll(uris, options.providers, opened.dek);
    await writeSpareSlot({ handle, opened, to, providers: options.providers, name: path });
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

/** What {@link writeSpareSlot} needs: the open file, its opened header and the new recipients. */
interface SpareWrite {
  readonly handle: FileHandle;
  readonly opened: OpenedHeader;
  readonly to: readonly WrappedKey[];
  readonly providers: readonly KeyProvider[];
  readonly name: string;
}

/**
 * Writes the new header into the spare slot, reads it back and checks that every new recipient
 * unwraps to the data key; only then erases the old slot. On a failed check the spare slot is
 * zeroed again, so the file keeps opening with its old header.
 */
async function writeSpareSlot(w: SpareWrite): Promise<void> {
  const { opened } = w;
  const { slotSize } = opened.preamble;
  const { spare, generation, bytes } = spareSlot(w);
  await writeSlot(w, bytes, spare, 'rewrite the header of');
  try {
    await verifySpare(w, spare, generation);
  } catch (error) {
    await writeSlot(w, Buffer.alloc(slotSize), spare, 'restore the header of').catch(() => {});
    throw error;
  }
  await writeSlot(w, Buffer.alloc(slotSize), opened.slot.index, 'erase the old header of');
}

/** The new header slot for `w.to`: it goes into the slot not in use, one generation on. */
function spareSlot(w: Omit<SpareWrite, 'handle'>): { spare: number; generation: bigint; bytes: Buffer } {
  const { opened } = w;
  const spare = opened.slot.index === 0 ? 1 : 0;
  const generation = opened.slot.generation + 1n;
  const envelope = { recipients: w.to, length: opened.envelope.length };
  const parts = { generation, coreBytes: opened.slot.coreBytes, envelope, headerKey: opened.headerKey };
  return {
    spare,
    generation,
    bytes: encodeSlot(opened.preambleBytes, opened.preamble.slotSize, parts, w.name),
  };
}

/**
 * Rewraps a sealed file when the source or the output is an `az://` blob: the new header is built
 * and checked in memory. In place, a blob whose header is its own block (as sealtrain writes them)
 * gets one new block and a recommitted block list; otherwise header and body (ciphertext only) are
 * streamed into a new blob or file that replaces the target at commit. Either commit carries
 * `If-Match` with the etag read at the start, so a blob changed meanwhile is left alone
 * (`ERR_IO_CHANGED`).
 */
async function rewrapRemote(path: string, options: RotateOptions): Promise<RotateResult> {
  const target = options.output ?? path;
  const src = await openRandomAccess(path, options.storage);
  let opened: OpenedHeader | undefined;
  let out: OutputTarget | undefined;
  try {
    // One read covers the largest header; for a blob that is one round trip, not two.
    const first = Buffer.from(await src.read(0, Math.min(src.size, PREAMBLE_SIZE + 2 * MAX_SLOT_SIZE)));
    const { slotSize } = parsePreamble(first, path);
    const start = bodyOffset(slotSize);
    const prefix = first.subarray(0, start);
    opened = await openHeader(prefix, path, unwrapWith(options.providers));
    checkBodySize(opened, src.size - start, path);
    const uris = options.recipients ?? keyUrisOf(opened.envelope.recipients);
    const to = await wrapForAll(uris, options.providers, opened.dek);
    const w = { opened, to, providers: options.providers, name: path };
    const { spare, generation, bytes } = spareSlot(w);
    const head = Buffer.from(prefix);
    bytes.copy(head, PREAMBLE_SIZE + spare * slotSize);
    await checkSpare(head, w, spare, generation);
    head.fill(
      0,
      PREAMBLE_SIZE + opened.slot.index * slotSize,
      PREAMBLE_SIZE + (opened.slot.index + 1) * slotSize,
    );
    // In place means the source is the blob (only then is this path taken without -o).
    const inPlaceEtag = options.output === undefined ? src.etag : undefined;
    if (!(inPlaceEtag !== undefined && (await replaceHead(path, head, inPlaceEtag, options.storage)))) {
      out = await openOutput(
        target,
        inPlaceEtag !== undefined || (options.overwrite ?? false),
        options.storage,
        {
          ...(inPlaceEtag !== undefined ? { ifMatch: inPlaceEtag, metadata: src.metadata ?? {} } : {}),
        },
      );
      // Body first and header last, as a seal writes them: a blob keeps its header as its own
      // block, so the next rewrap of it replaces one block.
      const body = readAhead(src, start);
      const buf = Buffer.allocUnsafe(8 * 1024 * 1024);
      for (let at = start; at < src.size; ) {
        const n = await body.read(buf);
        if (n === 0) break;
        await out.write(buf.subarray(0, n), at);
        at += n;
      }
      await out.write(head, 0);
      await out.commit();
      out = undefined;
    }
    const result = { path: target, from: opened.envelope.recipients, to };
    await recordSealEvent(options.audit, 'rewrap', { path: target, recipients: to });
    return result;
  } catch (error) {
    await recordSealEvent(options.audit, 'rewrap', { path: target, error });
    throw error;
  } finally {
    if (opened) wipeOpened(opened);
    await out?.abort();
    await src.close?.();
  }
}

/** Swaps a blob's header block in place; false when the blob's blocks do not allow it. */
async function replaceHead(
  location: string,
  head: Buffer,
  etag: string,
  storage: StorageOptions | undefined,
): Promise<boolean> {
  const { store, path } = blobAt(location, storage);
  return (await store.replaceHead(path, head, etag)) !== undefined;
}

async function writeSlot(w: SpareWrite, bytes: Buffer, index: number, action: string): Promise<void> {
  try {
    await w.handle.write(bytes, 0, bytes.length, PREAMBLE_SIZE + index * bytes.length);
    await w.handle.sync();
  } catch (error) {
    throw fromFsError(error, action, w.name);
  }
}

/** Reads the spare slot back: its tag must verify and each recipient must unwrap to the DEK. */
async function verifySpare(w: SpareWrite, spare: number, generation: bigint): Promise<void> {
  await checkSpare(await readPrefix(w.handle, w.name), w, spare, generation);
}

/** Checks a header's spare slot: its tag must verify and each recipient must unwrap to the DEK. */
async function checkSpare(
  prefix: Buffer,
  w: Omit<SpareWrite, 'handle'>,
  spare: number,
  generation: bigint,
): Promise<void> {
  const { preambleBytes, slots } = readHeaderStructure(prefix, w.name);
  const slot = slots.find((s) => s.index === spare && s.generation === generation);
  if (
    !slot ||
    !preambleBytes.equals(w.opened.preambleBytes) ||
    !slotAuthentic(slot, preambleBytes, w.opened.headerKey)
  ) {
    throw new SealtrainError(
      'ERR_IO_FAILED',
      `The new header of ${w.name} did not read back; the old one is kept.`,
      { details: { path: w.name } },
    );
  }
  const unwrap = unwrapWith(w.providers);
  for (const r of slot.envelope.recipients) {
    let raw: Uint8Array;
    try {
      raw = await unwrap(r);
    } catch (error) {
      throw badWrap(w.name, r, error);
    }
    const same = raw.length === w.opened.dek.length && timingSafeEqual(raw, w.opened.dek);
    raw.fill(0);
    if (!same) throw badWrap(w.name, r);
  }
}

function badWrap(name: string, r: WrappedKey, cause?: unknown): SealtrainError {
  return new SealtrainError(
    'ERR_KMS_UNWRAP_FAILED',
    `The new wrapped key for ${r.uri} version ${r.version} does not unwrap to the data key of ${name}; the old header is kept.`,
    { cause, details: { path: name, recipient: `${r.uri}/${r.version}` } },
  );
}
