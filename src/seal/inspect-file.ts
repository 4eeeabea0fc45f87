import type { SealMeta } from './internal/header-json.js';
import { bodyGeometry, bodyOffset, MAX_SLOT_SIZE, PREAMBLE_SIZE } from './internal/layout.js';
import { openRandomAccess, type StorageOptions } from './internal/locations.js';
import { readHeaderStructure } from './internal/open-header.js';

/** What `inspect` shows: the header as stored, without any key and without decrypting. */
export interface SealedFileInfo {
  readonly path: string;
  readonly formatVersion: number;
  readonly suite: string;
  readonly slotSize: number;
  readonly chunkSize: number;
  readonly chunkCount: number;
  readonly plaintextLength: number;
  /** The plaintext length the header records, or null when sealed to a pipe. */
  readonly headerLength: number | null;
  readonly created: string;
  readonly meta: SealMeta;
  readonly generation: string;
  readonly recipients: ReadonlyArray<{
    readonly uri: string;
    readonly version: string;
    readonly alg: string;
  }>;
  /** Always false: the header tag needs the data key. `unseal` and `verify` authenticate. */
  readonly authenticated: false;
}

/**
 * Reads a sealed file's header (a local path or an `az://` blob, from which only the header's
 * bytes are fetched) and derives the chunk count from its size.
 */
export async function inspectFile(
  location: string,
  options: { storage?: StorageOptions } = {},
): Promise<SealedFileInfo> {
  const src = await openRandomAccess(location, options.storage);
  try {
    const { size } = src;
    const prefix = await src.read(0, Math.min(size, PREAMBLE_SIZE + 2 * MAX_SLOT_SIZE));
    const { preamble, slots } = readHeaderStructure(Buffer.from(prefix), location);
    const [slot] = slots;
    if (!slot) throw new Error('unreachable: readHeaderStructure returns at least one slot');
    const geometry = bodyGeometry(size - bodyOffset(preamble.slotSize), slot.core.chunk_size, location);
    return {
      path: location,
      formatVersion: preamble.version,
      suite: 'AES-256-GCM-STREAM/HKDF-SHA-256',
      slotSize: preamble.slotSize,
      chunkSize: slot.core.chunk_size,
      chunkCount: geometry.chunkCount,
      plaintextLength: geometry.plaintextLength,
      headerLength: slot.envelope.length,
      created: slot.core.created,
      meta: slot.core.meta,
      generation: slot.generation.toString(),
      recipients: slot.envelope.recipients.map(({ uri, version, alg }) => ({ uri, version, alg })),
      authenticated: false,
    };
  } finally {
    await src.close?.();
  }
}
