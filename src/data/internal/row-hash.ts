import { randomBytes } from 'node:crypto';
import { Growing } from './growing.js';

/**
 * A quantised value that is an int32 is written as its one word; any other value as this marker
 * and its two float64 words (the int32 2³⁰, whose word the marker is, too): a prefix code.
 */
const FLOAT64 = 0x40000000;

/**
 * 64-bit keys of the rows of a row-major float32 matrix, two words per row, for `groupKeys`: two
 * independent 32-bit hashes with MurmurHash3's mixing, each from its own random seed (crafted
 * collisions do not carry over between runs). Equal rows always get equal keys; two different
 * rows share one with probability about 2⁻⁶⁴. The same keys as `RowKeyer` would group, made
 * without a copy per row: an exact key takes each value's float32 bits (`-0` as `+0`, every NaN as
 * one NaN); a quantised key takes `Math.round(value / quantum)`, written as one word when it is an
 * int32 and otherwise as a marker and the value's float64 words (a prefix code, so two different
 * rows never feed the same words).
 */
export class RowHasher {
  readonly width: number;
  private readonly seed1: number;
  private readonly seed2: number;
  private readonly words: Uint32Array;
  private readonly float: Float64Array;
  private readonly floatWords: Uint32Array;

  constructor(width: number) {
    this.width = width;
    const seeds = new Uint32Array(randomBytes(8).buffer);
    this.seed1 = seeds[0] as number;
    this.seed2 = seeds[1] as number;
    this.words = new Uint32Array(3 * width);
    this.float = new Float64Array(1);
    this.floatWords = new Uint32Array(this.float.buffer);
  }

  /** The exact keys of rows `from` to `to` (exclusive) of `values` into `keys` (at 2 × row). */
  exact(values: Float32Array, from: number, to: number, keys: Uint32Array): void {
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    const w = this.width;
    for (let r = from; r < to; r++) this.mix(bits, r * w, w, keys, 2 * r);
  }

  /**
   * The keys of rows `from` to `to` (exclusive) after rounding each value to its column's
   * quantum (`quanta[j]`; 0 keeps the column exact) into `keys` (at 2 × row).
   */
  quantised(values: Float32Array, from: number, to: number, quanta: Float64Array, keys: Uint32Array): void {
    const w = this.width;
    const words = this.words;
    const float = this.float;
    const floatWords = this.floatWords;
    for (let r = from; r < to; r++) {
      let n = 0;
      const base = r * w;
      for (let j = 0; j < w; j++) {
        let v = values[base + j] as number;
        const q = quanta[j] as number;
        if (q > 0) v = round(v / q);
        const small = v | 0;
        // -0 is 0 here.
        if (small === v && small !== FLOAT64) {
          words[n++] = small;
          continue;
        }
        float[0] = Number.isNaN(v) ? Number.NaN : v;
        words[n++] = FLOAT64;
        words[n++] = floatWords[0] as number;
        words[n++] = floatWords[1] as number;
      }
      this.mix(words, 0, n, keys, 2 * r, false);
    }
  }

  /**
   * Mixes `count` words of `words` from `at` into a key at `keys[out]`; with `canonical`, each
   * word is a float32's bits and `-0` and NaN are made one first.
   */
  private mix(
    words: Uint32Array,
    at: number,
    count: number,
    keys: Uint32Array,
    out: number,
    canonical = true,
  ): void {
    let h1 = this.seed1 ^ count;
    let h2 = this.seed2 ^ Math.imul(count, 0x9e3779b1);
    for (let i = at; i < at + count; i++) {
      let w = words[i] as number;
      if (canonical) {
        if (w === 0x80000000) w = 0;
        else if ((w & 0x7fffffff) > 0x7f800000) w = 0x7fc00000;
      }
      let k = Math.imul(w, 0xcc9e2d51);
      k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
      h1 ^= k;
      h1 = (Math.imul((h1 << 13) | (h1 >>> 19), 5) + 0xe6546b64) | 0;
      let m = Math.imul(w, 0x85ebca6b);
      m = Math.imul((m << 13) | (m >>> 19), 0xc2b2ae35);
      h2 ^= m;
      h2 = (Math.imul((h2 << 17) | (h2 >>> 15), 5) + 0x561ccd1b) | 0;
    }
    keys[out] = fmix(h1);
    keys[out + 1] = fmix(h2 ^ h1);
  }
}

/**
 * `Math.round(x)` (half up), except that it may give `+0` for `-0`: floor(x + 0.5), less one
 * when x + 0.5 rounded up to the next integer (0.49999999999999994 + 0.5 is 1). `Math.round`
 * branches on each value's fraction, which random data mispredicts half the time; this does not.
 */
export function round(x: number): number {
  const up = Math.floor(x + 0.5);
  return up - 0.5 > x ? up - 1 : up;
}

function fmix(x: number): number {
  let h = x ^ (x >>> 16);
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Exact row keys made while the rows arrive (8 bytes a row, growing with them), and made again
 * for rows whose cells change afterwards (imputed values).
 */
export class ExactKeys {
  private readonly hasher: RowHasher;
  private readonly growing: Growing<Uint32Array>;
  private rows = 0;

  constructor(width: number, maxBytes = 2 ** 32) {
    this.hasher = new RowHasher(width);
    this.growing = new Growing((b) => new Uint32Array(b), maxBytes);
  }

  /** Keys rows `from` to `to` (exclusive) of `values`; rows arrive in order. */
  add(values: Float32Array, from: number, to: number): void {
    this.growing.ensure(2 * to, 'row keys');
    this.hasher.exact(values, from, to, this.growing.array);
    this.rows = Math.max(this.rows, to);
  }

  /** Keys again each row of `rows` of `values`. */
  redo(values: Float32Array, rows: ArrayLike<number>): void {
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i] as number;
      this.hasher.exact(values, r, r + 1, this.growing.array);
    }
  }

  /** The keys of the rows added, two words per row. */
  get keys(): Uint32Array {
    return this.growing.array.subarray(0, 2 * this.rows);
  }
}
