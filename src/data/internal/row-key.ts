import { createHash } from 'node:crypto';
import { SealtrainError } from '../../errors/index.js';

/** Bytes of the digest kept as a row's key: 64 bits. */
const KEY_BYTES = 8;

/**
 * Turns feature rows into 64-bit keys: each value is written as a little-endian float64 (after
 * rounding to its column's quantum, when there is one) with `-0` written as `+0` and every NaN as
 * the one quiet NaN `0x7ff8000000000000`, and the key is the first 8 bytes of the SHA-256 of
 * those bytes, as an 8-character latin1 string (a compact `Map` key). Equal canonical rows
 * always get equal keys; two different rows share one with probability about 2⁻⁶⁴ per pair.
 */
export class RowKeyer {
  /** Values per row. */
  readonly width: number;
  private readonly quanta: Float64Array | undefined;
  private readonly view: DataView;

  /**
   * @param width - values per row.
   * @param quanta - one rounding step per column (`0` keeps that column exact); none for exact keys.
   */
  constructor(width: number, quanta?: ArrayLike<number>) {
    if (!Number.isSafeInteger(width) || width < 1) {
      throw new SealtrainError('ERR_USAGE_INVALID', `A row must have at least one value, not ${width}.`);
    }
    if (quanta !== undefined) {
      for (let j = 0; j < quanta.length; j++) {
        const q = quanta[j] as number;
        if (!(Number.isFinite(q) && q >= 0)) {
          throw new SealtrainError(
            'ERR_USAGE_INVALID',
            `The quantum of column ${j} must be a finite number ≥ 0, not ${q}.`,
            { details: { column: j } },
          );
        }
      }
    }
    this.width = width;
    this.quanta = quanta === undefined ? undefined : Float64Array.from(quanta);
    this.view = new DataView(new ArrayBuffer(width * 8));
  }

  /** The key of `row`, which must hold exactly {@link width} values. */
  key(row: ArrayLike<number>): string {
    if (row.length !== this.width) {
      throw new SealtrainError(
        'ERR_USAGE_INVALID',
        `A row has ${row.length} values where the index expects ${this.width}.`,
        { details: { expected: this.width, actual: row.length } },
      );
    }
    const view = this.view;
    const quanta = this.quanta;
    for (let j = 0; j < row.length; j++) {
      let v = row[j] as number;
      const q = quanta === undefined ? 0 : (quanta[j] as number);
      if (q > 0) v = Math.round(v / q);
      const at = j * 8;
      if (Number.isNaN(v)) {
        view.setUint32(at, 0, true);
        view.setUint32(at + 4, 0x7ff80000, true);
      } else {
        // `v === 0` holds for -0 too, so both are written as +0.
        view.setFloat64(at, v === 0 ? 0 : v, true);
      }
    }
    return createHash('sha256').update(view).digest().toString('latin1', 0, KEY_BYTES);
  }
}
