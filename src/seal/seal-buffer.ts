import { SealtrainError } from '../errors/index.js';
import type { KeyProvider } from '../kms/index.js';
import { engineOptions } from './internal/context.js';
import {
  bodyGeometry,
  bodyOffset,
  PREAMBLE_SIZE,
  parsePreamble,
  sealedBodyLength,
} from './internal/layout.js';
import { openInMemory, sealInMemory } from './internal/memory-engine.js';
import { openHeader, wipeOpened } from './internal/open-header.js';
import { prepareSeal, type SealParams } from './internal/prepare.js';
import { unwrapWith } from './internal/recipients.js';

/** Options for {@link sealBuffer}. */
export interface SealBufferOptions extends SealParams {
  /**
   * Write into this buffer instead of allocating one (it must be large enough; the result is a
   * view of it). Reusing one buffer across calls avoids page faults on fresh memory.
   */
  readonly into?: Uint8Array;
}

/** A view of `into` of `size` bytes, or a fresh buffer. */
function outputBuffer(size: number, into: Uint8Array | undefined): Buffer {
  if (!into) return Buffer.allocUnsafe(size);
  if (into.length < size) {
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `The output buffer holds ${into.length} bytes; ${size} are needed.`,
    );
  }
  return Buffer.from(into.buffer, into.byteOffset, size);
}

/**
 * Seals a buffer in memory into the sealed-file format. Uses both cores when the input spans
 * several batches. The plaintext is not copied.
 */
export async function sealBuffer(plaintext: Uint8Array, options: SealBufferOptions): Promise<Buffer> {
  const plan = await prepareSeal(options, 'buffer');
  try {
    const header = plan.header(plaintext.length);
    const out = outputBuffer(
      header.length + sealedBodyLength(plaintext.length, plan.chunkSize),
      options.into,
    );
    header.copy(out, 0);
    await sealInMemory(
      plaintext,
      out.subarray(header.length),
      engineOptions(plan.payloadKey, plan.chunkSize, 'buffer', { concurrency: options.concurrency }),
    );
    return out;
  } finally {
    plan.wipe();
  }
}

/** Options for {@link unsealBuffer}. */
export interface UnsealBufferOptions {
  readonly providers: readonly KeyProvider[];
  readonly keys?: readonly string[];
  /** Names the data in errors; default `buffer`. */
  readonly name?: string;
  /** Batches decrypted at once (default 4): 1 uses one core. */
  readonly concurrency?: number;
  /** Write the plaintext into this buffer (see {@link SealBufferOptions.into}). */
  readonly into?: Uint8Array;
}

/** Opens a sealed buffer; throws the same errors as `unsealFile`. */
export async function unsealBuffer(sealed: Uint8Array, options: UnsealBufferOptions): Promise<Buffer> {
  const name = options.name ?? 'buffer';
  const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const { slotSize } = parsePreamble(bytes.subarray(0, PREAMBLE_SIZE), name);
  const opened = await openHeader(
    bytes.subarray(0, bodyOffset(slotSize)),
    name,
    unwrapWith(options.providers, options.keys),
  );
  try {
    const body = bytes.subarray(bodyOffset(slotSize));
    const { chunk_size: cs } = opened.core;
    const expected = opened.envelope.length;
    if (expected !== null && body.length < sealedBodyLength(expected, cs)) {
      throw new SealtrainError(
        'ERR_SEAL_TRUNCATED',
        `${name} is truncated: it is shorter than its header says.`,
      );
    }
    const { plaintextLength } = bodyGeometry(body.length, cs, name);
    const out = outputBuffer(plaintextLength, options.into);
    await openInMemory(
      body,
      out,
      engineOptions(opened.payloadKey, cs, name, { concurrency: options.concurrency }),
    );
    return out;
  } finally {
    wipeOpened(opened);
  }
}
