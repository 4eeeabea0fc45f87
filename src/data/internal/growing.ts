import { SealtrainError } from '../../errors/index.js';

/** A typed array of 4-byte elements on a resizable buffer that grows in place (no copies) up to `max` bytes. */
export class Growing<T extends Float32Array | Int32Array | Uint32Array> {
  private buffer: ArrayBuffer;
  array: T;
  constructor(
    make: (b: ArrayBuffer) => T,
    private readonly max: number,
  ) {
    this.buffer = new (
      ArrayBuffer as unknown as new (
        n: number,
        o: { maxByteLength: number },
      ) => ArrayBuffer
    )(0, {
      maxByteLength: max,
    });
    this.array = make(this.buffer);
  }

  /** Makes room for `elements`; `what` names the array in the error when that would pass `max`. */
  ensure(elements: number, what: string): void {
    const bytes = elements * 4;
    if (bytes <= this.buffer.byteLength) return;
    const next = Math.min(this.max, Math.max(bytes, Math.ceil(this.buffer.byteLength * 1.5), 1 << 20));
    if (next < bytes) {
      throw new SealtrainError(
        'ERR_DATA_INVALID',
        `The ${what} would exceed ${this.max} bytes in memory; prepare a sample, or drop columns with "ignore".`,
      );
    }
    (this.buffer as unknown as { resize(n: number): void }).resize(next);
  }
}
