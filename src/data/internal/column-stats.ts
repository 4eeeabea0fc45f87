import { SealtrainError } from '../../errors/index.js';

/** Where a column's values sit and how far they spread: mean and standard deviation, or a robust pair. */
export interface ColumnSpread {
  /** The centre (mean, or median). */
  readonly center: number;
  /** The spread, in standard-deviation units (a standard deviation, or a scaled MAD). */
  readonly scale: number;
}

/** Options for {@link outlierCount} and {@link OutlierCounter}. */
export interface OutlierOptions {
  /** A value is an outlier when it lies more than `z` × scale from the centre; default 4. */
  readonly z?: number;
}

/**
 * Running count, mean, sum of squared deviations (M2), minimum and maximum of one column, in one
 * pass with the numerically stable update (each value moves the mean by its share of the
 * deviation, and M2 by the deviation from the old mean times that from the new). Values that are
 * NaN or infinite are counted in {@link skipped} and otherwise ignored. Accumulators over parts
 * of the data combine exactly with {@link merge}.
 */
export class ColumnStats implements ColumnSpread {
  private n = 0;
  private nSkipped = 0;
  private mu = 0;
  private m2 = 0;
  private lo = Number.POSITIVE_INFINITY;
  private hi = Number.NEGATIVE_INFINITY;

  /**
   * The accumulator that adding values one by one leaves in this state: the count of finite
   * values, of values passed over, the running mean (0 with no values), M2, minimum and maximum.
   * For a pass that keeps many columns' running moments in arrays and updates them the same way.
   */
  static fromMoments(m: {
    readonly count: number;
    readonly skipped: number;
    readonly mean: number;
    readonly sumSquares: number;
    readonly min: number;
    readonly max: number;
  }): ColumnStats {
    const stats = new ColumnStats();
    stats.n = m.count;
    stats.nSkipped = m.skipped;
    stats.mu = m.mean;
    stats.m2 = m.sumSquares;
    stats.lo = m.min;
    stats.hi = m.max;
    return stats;
  }

  /** Adds one value. */
  add(value: number): void {
    if (!Number.isFinite(value)) {
      this.nSkipped++;
      return;
    }
    this.n++;
    const delta = value - this.mu;
    this.mu += delta / this.n;
    this.m2 += delta * (value - this.mu);
    if (value < this.lo) this.lo = value;
    if (value > this.hi) this.hi = value;
  }

  /** Adds every value of `values`; returns this. */
  addAll(values: ArrayLike<number>): this {
    for (let i = 0; i < values.length; i++) this.add(values[i] as number);
    return this;
  }

  /** Folds in another accumulator, as if its values had been added here; returns this. */
  merge(other: ColumnStats): this {
    this.nSkipped += other.nSkipped;
    if (other.n === 0) return this;
    const n = this.n + other.n;
    const delta = other.mu - this.mu;
    this.mu += (delta * other.n) / n;
    this.m2 += other.m2 + (delta * delta * this.n * other.n) / n;
    this.n = n;
    this.lo = Math.min(this.lo, other.lo);
    this.hi = Math.max(this.hi, other.hi);
    return this;
  }

  /** Finite values added. */
  get count(): number {
    return this.n;
  }
  /** NaN or infinite values passed over. */
  get skipped(): number {
    return this.nSkipped;
  }
  /** The mean; NaN with no values. */
  get mean(): number {
    return this.n === 0 ? Number.NaN : this.mu;
  }
  /** The sum of squared deviations from the mean. */
  get sumSquares(): number {
    return this.m2;
  }
  /** The population variance (M2 / n); NaN with no values. */
  get variance(): number {
    return this.n === 0 ? Number.NaN : this.m2 / this.n;
  }
  /** The sample variance (M2 / (n − 1)); NaN with fewer than two values. */
  get sampleVariance(): number {
    return this.n < 2 ? Number.NaN : this.m2 / (this.n - 1);
  }
  /** The population standard deviation; NaN with no values. */
  get std(): number {
    return Math.sqrt(this.variance);
  }
  /** The smallest value; `Infinity` with no values. */
  get min(): number {
    return this.lo;
  }
  /** The largest value; `-Infinity` with no values. */
  get max(): number {
    return this.hi;
  }
  /** The mean, as a {@link ColumnSpread}. */
  get center(): number {
    return this.mean;
  }
  /** The population standard deviation, as a {@link ColumnSpread}. */
  get scale(): number {
    return this.std;
  }

  /** A plain summary for reports. */
  toJSON(): { count: number; skipped: number; mean: number; std: number; min: number; max: number } {
    return {
      count: this.n,
      skipped: this.nSkipped,
      mean: this.mean,
      std: this.std,
      min: this.lo,
      max: this.hi,
    };
  }
}

function threshold(spread: ColumnSpread, options: OutlierOptions, column?: number): number {
  const z = options.z ?? 4;
  const where = column === undefined ? '' : ` of column ${column}`;
  if (!(Number.isFinite(z) && z > 0)) {
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `The outlier threshold z must be a finite number > 0, not ${z}.`,
    );
  }
  if (!(Number.isFinite(spread.center) && Number.isFinite(spread.scale) && spread.scale >= 0)) {
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `The centre and scale${where} must be finite with scale ≥ 0, not ${spread.center} and ${spread.scale}.`,
    );
  }
  return z * spread.scale;
}

/**
 * Counts the values more than `z` × `spread.scale` from `spread.center` (NaN is never an
 * outlier). With a scale of 0 (a constant column) every value other than the centre counts.
 * Pass a {@link ColumnStats} for the mean and standard deviation, or a `ReservoirStats` for the
 * median and scaled MAD, which an outlier cannot drag towards itself.
 *
 * @throws SealtrainError `ERR_USAGE_INVALID` when `z` is not finite and > 0, or the spread is not finite.
 */
export function outlierCount(
  values: ArrayLike<number>,
  spread: ColumnSpread,
  options: OutlierOptions = {},
): number {
  const limit = threshold(spread, options);
  const center = spread.center;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    if (Math.abs((values[i] as number) - center) > limit) count++;
  }
  return count;
}

/** What an {@link OutlierCounter} found. */
export interface OutlierReport {
  /** Rows added. */
  readonly rows: number;
  /** Rows with at least one outlying value. */
  readonly rowsWithOutliers: number;
  /** Outlying values per column. */
  readonly perColumn: readonly number[];
  /** Up to `maxExamples` row numbers of rows with an outlier, in the order added. */
  readonly examples: readonly number[];
}

/**
 * The streaming form of {@link outlierCount} over whole rows, for a second pass once the first
 * has produced each column's spread.
 */
export class OutlierCounter {
  private readonly centers: Float64Array;
  private readonly limits: Float64Array;
  private readonly perColumn: number[];
  private readonly examples: number[] = [];
  private readonly maxExamples: number;
  private rows = 0;
  private flagged = 0;

  /**
   * @param spreads - one per column; rows must have this many values.
   * @throws SealtrainError `ERR_USAGE_INVALID` for a bad `z`, `maxExamples` or spread.
   */
  constructor(
    spreads: readonly ColumnSpread[],
    options: OutlierOptions & { readonly maxExamples?: number } = {},
  ) {
    this.centers = Float64Array.from(spreads, (s) => s.center);
    this.limits = Float64Array.from(spreads, (s, j) => threshold(s, options, j));
    this.perColumn = spreads.map(() => 0);
    this.maxExamples = options.maxExamples ?? 10;
    if (!Number.isSafeInteger(this.maxExamples) || this.maxExamples < 0) {
      throw new SealtrainError(
        'ERR_USAGE_INVALID',
        `maxExamples must be an integer ≥ 0, not ${this.maxExamples}.`,
      );
    }
  }

  /**
   * Adds one row.
   *
   * @param rowNumber - what examples call this row; default the count of rows added, from 1.
   * @throws SealtrainError `ERR_USAGE_INVALID` for a row of another width.
   */
  add(row: ArrayLike<number>, rowNumber = this.rows + 1): void {
    if (row.length !== this.centers.length) {
      throw new SealtrainError(
        'ERR_USAGE_INVALID',
        `A row has ${row.length} values where the outlier counter expects ${this.centers.length}.`,
      );
    }
    this.rows++;
    let any = false;
    for (let j = 0; j < row.length; j++) {
      if (Math.abs((row[j] as number) - (this.centers[j] as number)) > (this.limits[j] as number)) {
        this.perColumn[j] = (this.perColumn[j] as number) + 1;
        any = true;
      }
    }
    if (!any) return;
    this.flagged++;
    if (this.examples.length < this.maxExamples) this.examples.push(rowNumber);
  }

  /** Counts and examples over every row added so far. */
  report(): OutlierReport {
    return {
      rows: this.rows,
      rowsWithOutliers: this.flagged,
      perColumn: [...this.perColumn],
      examples: [...this.examples],
    };
  }
}
