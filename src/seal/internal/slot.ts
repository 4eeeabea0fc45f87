import { SealtrainError } from '../../errors/index.js';
import { type Core, type Envelope, encodeEnvelope, parseCore, parseEnvelope } from './header-json.js';
import { macEquals, slotMac } from './keys.js';
import { MAC_SIZE, SLOT_FIXED } from './layout.js';

/** A structurally valid header slot (its tag not yet checked). */
export interface ParsedSlot {
  /** 0 for slot A, 1 for slot B. */
  readonly index: 0 | 1;
  readonly generation: bigint;
  readonly coreBytes: Buffer;
  readonly core: Core;
  readonly envelope: Envelope;
  /** Slot bytes before the tag (what the tag covers, after the preamble). */
  readonly signed: Buffer;
  readonly tag: Buffer;
}

/** Encodes a slot, padded to `slotSize`. */
export function encodeSlot(
  preamble: Uint8Array,
  slotSize: number,
  parts: { generation: bigint; coreBytes: Uint8Array; envelope: Envelope; headerKey: Uint8Array },
  name: string,
): Buffer {
  const env = encodeEnvelope(parts.envelope);
  const used = SLOT_FIXED + parts.coreBytes.length + 4 + env.length + MAC_SIZE;
  if (used > slotSize) {
    throw new SealtrainError(
      'ERR_SEAL_LIMIT',
      `Header of ${name} needs ${used} bytes but a slot holds ${slotSize}: use fewer recipients or a larger --slot-size.`,
      { details: { path: name, field: 'slot_size' } },
    );
  }
  const out = Buffer.alloc(slotSize);
  out.writeUInt32BE(used, 0);
  out.writeBigUInt64BE(parts.generation, 4);
  out.writeUInt32BE(parts.coreBytes.length, 12);
  Buffer.from(parts.coreBytes).copy(out, SLOT_FIXED);
  let off = SLOT_FIXED + parts.coreBytes.length;
  out.writeUInt32BE(env.length, off);
  env.copy(out, off + 4);
  off += 4 + env.length;
  slotMac(parts.headerKey, preamble, out.subarray(0, off)).copy(out, off);
  return out;
}

/**
 * Parses one slot. Returns undefined for an empty slot; throws `ERR_SEAL_MALFORMED_HEADER`
 * naming the field for a slot whose structure is wrong.
 */
export function parseSlot(bytes: Buffer, index: 0 | 1, name: string): ParsedSlot | undefined {
  const used = bytes.readUInt32BE(0);
  if (used === 0) return undefined;
  const bad = (field: string): SealtrainError =>
    new SealtrainError(
      'ERR_SEAL_MALFORMED_HEADER',
      `Header of ${name} is malformed: ${field} is out of range.`,
      {
        details: { path: name, field },
      },
    );
  if (used > bytes.length || used < SLOT_FIXED + 4 + MAC_SIZE) throw bad('slot.used');
  const coreLen = bytes.readUInt32BE(12);
  if (SLOT_FIXED + coreLen + 4 + MAC_SIZE > used) throw bad('slot.core_len');
  const envStart = SLOT_FIXED + coreLen + 4;
  const envLen = bytes.readUInt32BE(SLOT_FIXED + coreLen);
  if (envStart + envLen + MAC_SIZE !== used) throw bad('slot.env_len');
  if (bytes.subarray(used).some((b) => b !== 0)) throw bad('slot.padding');
  const coreBytes = Buffer.from(bytes.subarray(SLOT_FIXED, SLOT_FIXED + coreLen));
  return {
    index,
    generation: bytes.readBigUInt64BE(4),
    coreBytes,
    core: parseCore(coreBytes, name),
    envelope: parseEnvelope(bytes.subarray(envStart, envStart + envLen), name),
    signed: Buffer.from(bytes.subarray(0, used - MAC_SIZE)),
    tag: Buffer.from(bytes.subarray(used - MAC_SIZE, used)),
  };
}

/** True when the slot's tag verifies under `headerKey`. */
export function slotAuthentic(slot: ParsedSlot, preamble: Uint8Array, headerKey: Uint8Array): boolean {
  return macEquals(slotMac(headerKey, preamble, slot.signed), slot.tag);
}

/**
 * Parses both slots; returns the structurally valid ones, newest generation first. When neither
 * is valid, rethrows the first slot's structural error (or reports an empty header).
 */
export function parseSlots(header: Buffer, slotSize: number, name: string): ParsedSlot[] {
  const found: ParsedSlot[] = [];
  let firstError: unknown;
  for (const index of [0, 1] as const) {
    try {
      const slot = parseSlot(header.subarray(index * slotSize, (index + 1) * slotSize), index, name);
      if (slot) found.push(slot);
    } catch (error) {
      firstError ??= error;
    }
  }
  if (found.length === 0) {
    throw (
      firstError ??
      new SealtrainError(
        'ERR_SEAL_MALFORMED_HEADER',
        `Header of ${name} is malformed: both header slots are empty.`,
        {
          details: { path: name, field: 'slot' },
        },
      )
    );
  }
  return found.sort((a, b) =>
    a.generation === b.generation ? a.index - b.index : a.generation > b.generation ? -1 : 1,
  );
}
