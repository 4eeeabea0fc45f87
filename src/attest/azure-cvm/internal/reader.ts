import { SealtrainError } from '../../../errors/index.js';

/** The `ERR_ATTEST_MALFORMED` error every Azure CVM parser throws, naming the field. */
export function malformed(field: string, why: string, cause?: unknown): SealtrainError {
  return new SealtrainError('ERR_ATTEST_MALFORMED', `Azure CVM evidence: ${field} ${why}.`, {
    ...(cause === undefined ? {} : { cause }),
    details: { field },
  });
}

/**
 * Reads a byte string front to back, big- or little-endian, and names the structure being read
 * when it runs out, so a truncated input is an error that says which field was cut.
 */
export class ByteReader {
  readonly #bytes: Buffer;
  readonly #name: string;
  #at = 0;

  constructor(bytes: Uint8Array, name: string) {
    this.#bytes = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#name = name;
  }

  /** The read position. */
  get offset(): number {
    return this.#at;
  }

  /** Bytes not yet read. */
  get remaining(): number {
    return this.#bytes.length - this.#at;
  }

  /** The next `length` bytes (a copy), or a malformed error naming `field`. */
  take(length: number, field: string): Buffer {
    if (length > this.remaining)
      throw malformed(
        `${this.#name}.${field}`,
        `is truncated: ${length} bytes wanted at offset ${this.#at}, ${this.remaining} left`,
      );
    const out = Buffer.from(this.#bytes.subarray(this.#at, this.#at + length));
    this.#at += length;
    return out;
  }

  u8(field: string): number {
    return this.take(1, field).readUInt8(0);
  }

  u16be(field: string): number {
    return this.take(2, field).readUInt16BE(0);
  }

  u32be(field: string): number {
    return this.take(4, field).readUInt32BE(0);
  }

  u64be(field: string): bigint {
    return this.take(8, field).readBigUInt64BE(0);
  }

  u32le(field: string): number {
    return this.take(4, field).readUInt32LE(0);
  }

  /** A TPM2B: a big-endian 16-bit size, then that many bytes (at most `max`). */
  tpm2b(field: string, max: number): Buffer {
    const size = this.u16be(`${field}.size`);
    if (size > max) throw malformed(`${this.#name}.${field}`, `is ${size} bytes, over the ${max}-byte limit`);
    return this.take(size, field);
  }

  /** Fails when bytes are left over after the structure. */
  end(): void {
    if (this.remaining !== 0)
      throw malformed(this.#name, `has ${this.remaining} bytes after its end at offset ${this.#at}`);
  }
}
