import { SealtrainError } from '../../errors/index.js';
import { Rng } from '../../train/rng.js';
import type { ColumnSpread } from './column-stats.js';

/** MAD × this estimates the standard deviation of normal data (1 / the normal's 75th percentile). */
const MAD_TO_STD = 1.482602218505602;

/** Options for {@link ReservoirStats}. */
export interface ReservoirStatsOptions {
  /** The most values kept; default 10 000. Up to this many values, the statistics are exact. */
  readonly capacity?: number;
  /** The sampling seed (a 32-bit integer); default 0. Same seed and values, same sample. */
  readonly seed?: number;
  /** The random stream, so columns sample independently under one seed (e.g. the column index); default 0. */
  readonly stream?: number;
}

function median(sorted: Float64Array): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const mid = n >> 1;
  return n % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Median and median absolute deviation (MAD) of one column, estimated from a uniform random
 * sample of fixed size kept while the values stream past (each new value replaces a random kept
 * one with probability capacity / values seen). Robust: a few extreme values barely move either,
 * unlike the mean and standard deviation. NaN and infinite values are counted in
 * {@link skipped} and otherwise ignored.
 */
export class ReservoirStats implements ColumnSpread {
  private readonly capacity: number;
  private readonly rng: Rng;
  private readonly sample: Float64Array;
  private kept = 0;
  private seen = 0;
  private nSkipped = 0;
  private cache: { median: number; mad: number } | undefined;

  /** @throws SealtrainError `ERR_USAGE_INVALID` when `capacity` is not a positive integer. */
  constructor(options: ReservoirStatsOptions = {}) {
    const capacity = options.capacity ?? 10_000;
    if (!Number.isSafeInteger(capacity) || capacity < 1 || capacity > 2 ** 28) {
      throw new SealtrainError(
        'ERR_USAGE_INVALID',
        `The reservoir capacity must be an integer from 1 to 2^28, not ${capacity}.`,
      );
    }
    this.capacity = capacity;
    this.rng = new Rng(options.seed ?? 0, options.stream ?? 0);
    this.sample = new Float64Array(capacity);
  }

  /** Adds one value. */
  add(value: number): void {
    if (!Number.isFinite(value)) {
      this.nSkipped++;
      return;
    }
    this.seen++;
    this.cache = undefined;
    if (this.kept < this.capacity) {
      this.sample[this.kept++] = value;
      return;
    }
    const slot = Math.floor(this.rng.next() * this.seen);
    if (slot < this.capacity) this.sample[slot] = value;
  }

  /** Adds every value of `values`; returns this. */
  addAll(values: ArrayLike<number>): this {
    for (let i = 0; i < values.length; i++) this.add(values[i] as number);
    return this;
  }

  /** Finite values added. */
  get count(): number {
    return this.seen;
  }
  /** NaN or infinite values passed over. */
  get skipped(): number {
    return this.nSkipped;
  }
  /** Whether every value is still in the sample, so the statistics are exact. */
  get exact(): boolean {
    return this.seen <= this.capacity;
  }
  /** The median of the sample; NaN with no values. */
  get median(): number {
    return this.compute().median;
  }
  /** The median of |value − median| over the sample; NaN with no values. */
  get mad(): number {
    return this.compute().mad;
  }
  /** The median, as a {@link ColumnSpread}. */
  get center(): number {
    return this.median;
  }
  /** The MAD scaled to estimate a standard deviation, as a {@link ColumnSpread}. */
  get scale(): number {
    return this.mad * MAD_TO_STD;
  }

  private compute(): { median: number; mad: number } {
    if (this.cache !== undefined) return this.cache;
    const sorted = this.sample.slice(0, this.kept).sort();
    const m = median(sorted);
    const deviations = sorted.map((v) => Math.abs(v - m)).sort();
    this.cache = { median: m, mad: median(deviations) };
    return this.cache;
  }
}
