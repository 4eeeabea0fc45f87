import { SealtrainError } from '../../errors/index.js';

/** `\x89STSEAL\n`: the first 8 bytes of every sealed file. */
export const MAGIC = Buffer.from([0x89, 0x53, 0x54, 0x53, 0x45, 0x41, 0x4c, 0x0a]);
export const FORMAT_VERSION = 1;
export const SUITE_AES256GCM_STREAM = 1;
export const PREAMBLE_SIZE = 16;
export const TAG_SIZE = 16;
export const MAC_SIZE = 32;
export const SLOT_FIXED = 16; // used u32, generation u64, core_len u32
export const DEFAULT_SLOT_SIZE = 8192;
export const DEFAULT_CHUNK_SIZE = 65536;
export const MIN_CHUNK_SIZE = 4096;
export const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
export const MIN_SLOT_SIZE = 1024;
export const MAX_SLOT_SIZE = 65536;
export const MAX_CHUNKS = 2 ** 32;
export const MAX_RECIPIENTS = 16;

/** The fixed 16 bytes at the start of a sealed file. */
export interface Preamble {
  readonly version: number;
  readonly suite: number;
  readonly slotSize: number;
}

const isPow2 = (n: number): boolean => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** Checks a chunk size against the v1 limits. */
export function checkChunkSize(size: number, where: string): void {
  if (!isPow2(size) || size < MIN_CHUNK_SIZE || size > MAX_CHUNK_SIZE) {
    throw new SealtrainError(
      'ERR_SEAL_LIMIT',
      `Chunk size ${size} in ${where} is not a power of two between ${MIN_CHUNK_SIZE} and ${MAX_CHUNK_SIZE}.`,
      { details: { field: 'chunk_size' } },
    );
  }
}

/** Checks a slot size against the v1 limits. */
export function checkSlotSize(size: number, where: string): void {
  if (!isPow2(size) || size < MIN_SLOT_SIZE || size > MAX_SLOT_SIZE) {
    throw new SealtrainError(
      'ERR_SEAL_LIMIT',
      `Header slot size ${size} in ${where} is not a power of two between ${MIN_SLOT_SIZE} and ${MAX_SLOT_SIZE}.`,
      { details: { field: 'slot_size' } },
    );
  }
}

/** Encodes the preamble. */
export function encodePreamble(slotSize: number): Buffer {
  const out = Buffer.alloc(PREAMBLE_SIZE);
  MAGIC.copy(out, 0);
  out.writeUInt16BE(FORMAT_VERSION, 8);
  out.writeUInt16BE(SUITE_AES256GCM_STREAM, 10);
  out.writeUInt32BE(slotSize, 12);
  return out;
}

/** Parses the preamble; `name` names the file in errors. */
export function parsePreamble(bytes: Uint8Array, name: string): Preamble {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < MAGIC.length || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new SealtrainError('ERR_SEAL_NOT_SEALED', `${name} is not a sealed file (no sealtrain header).`, {
      details: { path: name },
    });
  }
  if (buf.length < PREAMBLE_SIZE) {
    throw new SealtrainError('ERR_SEAL_TRUNCATED', `${name} is truncated: it ends inside the header.`, {
      details: { path: name },
    });
  }
  const version = buf.readUInt16BE(8);
  const suite = buf.readUInt16BE(10);
  const slotSize = buf.readUInt32BE(12);
  if (version !== FORMAT_VERSION) {
    throw new SealtrainError(
      'ERR_SEAL_UNSUPPORTED_VERSION',
      `${name} uses sealed-file format version ${version}; this sealtrain reads version ${FORMAT_VERSION}. Upgrade sealtrain.`,
      { details: { path: name, version } },
    );
  }
  if (suite !== SUITE_AES256GCM_STREAM) {
    throw new SealtrainError('ERR_SEAL_UNSUPPORTED_VERSION', `${name} uses unknown cipher suite ${suite}.`, {
      details: { path: name, suite },
    });
  }
  if (!isPow2(slotSize) || slotSize < MIN_SLOT_SIZE || slotSize > MAX_SLOT_SIZE) {
    throw new SealtrainError(
      'ERR_SEAL_MALFORMED_HEADER',
      `Header of ${name} is malformed: slot_size ${slotSize} is out of range.`,
      {
        details: { path: name, field: 'slot_size' },
      },
    );
  }
  return { version, suite, slotSize };
}

/** Where the body starts. */
export const bodyOffset = (slotSize: number): number => PREAMBLE_SIZE + 2 * slotSize;

/** Chunk geometry of a body, derived from its length. */
export interface BodyGeometry {
  readonly chunkCount: number;
  readonly plaintextLength: number;
  /** Sealed size of the last chunk, tag included. */
  readonly lastChunkSize: number;
}

/** Derives the chunk count from a body length; throws `ERR_SEAL_TRUNCATED` for impossible sizes. */
export function bodyGeometry(bodyLength: number, chunkSize: number, name: string): BodyGeometry {
  const stride = chunkSize + TAG_SIZE;
  const truncated = (): SealtrainError =>
    new SealtrainError('ERR_SEAL_TRUNCATED', `${name} is truncated: its body ends inside a chunk.`, {
      details: { path: name },
    });
  if (bodyLength < TAG_SIZE) throw truncated();
  const chunkCount = Math.ceil(bodyLength / stride);
  const lastChunkSize = bodyLength - (chunkCount - 1) * stride;
  if (chunkCount > 1 && lastChunkSize <= TAG_SIZE) throw truncated();
  if (chunkCount > MAX_CHUNKS) {
    throw new SealtrainError('ERR_SEAL_LIMIT', `${name} has more than 2^32 chunks.`, {
      details: { path: name },
    });
  }
  return { chunkCount, plaintextLength: bodyLength - TAG_SIZE * chunkCount, lastChunkSize };
}

/** Sealed body length for a plaintext length. */
export function sealedBodyLength(plaintextLength: number, chunkSize: number): number {
  const chunks = Math.max(1, Math.ceil(plaintextLength / chunkSize));
  return plaintextLength + chunks * TAG_SIZE;
}
