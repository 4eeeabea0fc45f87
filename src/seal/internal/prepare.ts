import type { KeyProvider, WrappedKey } from '../../kms/index.js';
import { defaultRandom, type RandomFn } from './context.js';
import { checkMeta, encodeCore, type SealMeta } from './header-json.js';
import { headerKey, payloadKey } from './keys.js';
import {
  checkChunkSize,
  checkSlotSize,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_SLOT_SIZE,
  encodePreamble,
} from './layout.js';
import { wrapForAll } from './recipients.js';
import { encodeSlot } from './slot.js';

/** The header-related choices every seal makes. */
export interface SealParams {
  readonly recipients: readonly string[];
  readonly providers: readonly KeyProvider[];
  readonly meta?: SealMeta;
  readonly chunkSize?: number;
  readonly slotSize?: number;
  readonly random?: RandomFn;
  readonly clock?: () => Date;
  /** Batches of about 4 MiB encrypted at once (default 4): 1 uses one core. */
  readonly concurrency?: number;
}

/** A fresh DEK, wrapped for every recipient, with the derived keys. Call `wipe()` when done. */
export interface SealPlan {
  readonly recipients: WrappedKey[];
  readonly chunkSize: number;
  readonly slotSize: number;
  readonly payloadKey: Buffer;
  /** Preamble, slot A (generation 1) and an empty slot B, for a plaintext of `length` bytes. */
  header(length: number | null): Buffer;
  wipe(): void;
}

/** Draws the DEK and salt, wraps the DEK, and derives the header and payload keys. */
export async function prepareSeal(params: SealParams, name: string): Promise<SealPlan> {
  const chunkSize = params.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const slotSize = params.slotSize ?? DEFAULT_SLOT_SIZE;
  checkChunkSize(chunkSize, name);
  checkSlotSize(slotSize, name);
  const meta = checkMeta({ ...params.meta }, name);
  const random = params.random ?? defaultRandom;
  const dek = random(32);
  const salt = random(32);
  try {
    const recipients = await wrapForAll(params.recipients, params.providers, dek);
    const preamble = encodePreamble(slotSize);
    const created = (params.clock?.() ?? new Date()).toISOString();
    const coreBytes = encodeCore({ chunk_size: chunkSize, salt: salt.toString('base64url'), created, meta });
    const hk = headerKey(dek, salt);
    const pk = payloadKey(dek, salt, preamble, coreBytes);
    const header = (length: number | null): Buffer => {
      const envelope = { recipients, length };
      const slot = encodeSlot(
        preamble,
        slotSize,
        { generation: 1n, coreBytes, envelope, headerKey: hk },
        name,
      );
      return Buffer.concat([preamble, slot, Buffer.alloc(slotSize)]);
    };
    const wipe = (): void => {
      hk.fill(0);
      pk.fill(0);
    };
    return { recipients, chunkSize, slotSize, payloadKey: pk, header, wipe };
  } finally {
    dek.fill(0);
  }
}
