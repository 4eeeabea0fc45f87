/**
 * Leakage and poisoning signals over prepared rows, as pure functions and streaming
 * accumulators with no I/O: exact and near duplicates within and across splits, label drift
 * and class balance, and per-column outliers (mean and standard deviation, or median and MAD on
 * a seeded reservoir sample).
 */
import { SealtrainError } from '../errors/index.js';
import { RowKeyer } from './internal/row-key.js';
import { type DuplicateReport, SplitGroups, type SplitKey, splitCode } from './internal/split-groups.js';

export { chiSquareSurvival } from './internal/chi-square.js';
export {
  type ColumnSpread,
  ColumnStats,
  OutlierCounter,
  type OutlierOptions,
  type OutlierReport,
  outlierCount,
} from './internal/column-stats.js';
export {
  type ClassBalance,
  classBalance,
  type LabelDrift,
  type LabelDriftOptions,
  labelDrift,
} from './internal/label-drift.js';
export { ReservoirStats, type ReservoirStatsOptions } from './internal/reservoir-stats.js';
export type {
  CrossSplitDuplicates,
  DuplicateReport,
  SplitKey,
  SplitPair,
  WithinSplitDuplicates,
} from './internal/split-groups.js';

/** Options for {@link DuplicateIndex} and {@link NearDuplicateIndex}. */
export interface DuplicateIndexOptions {
  /** The most example row-number pairs kept per split and per pair of splits; default 10. */
  readonly maxExamples?: number;
  /** About how many rows will be added: the table is sized for them up front. */
  readonly expectedRows?: number;
}

function maxExamples(options: DuplicateIndexOptions): number {
  const n = options.maxExamples ?? 10;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new SealtrainError('ERR_USAGE_INVALID', `maxExamples must be an integer ≥ 0, not ${n}.`);
  }
  return n;
}

/**
 * Finds rows that are exactly equal, within each split and across splits (train and
 * validation, train and test, validation and test). Feed it every row once, as the feature
 * vector after type conversion and before normalisation; it keeps a 64-bit key and counts per
 * distinct row (about 43 bytes), not the rows. Values compare as numbers except that `-0` equals `0` and every NaN
 * equals every other NaN (a missing value matches a missing value).
 *
 * Keys are 64-bit hashes: a duplicate is never missed, and two different rows are reported
 * equal with probability about n²/2⁶⁵ over n rows (below 10⁻⁵ at ten million rows).
 * The label is not part of the row unless the caller appends it: the same features under two
 * labels is exactly what a label-flipping poisoner produces, so leave it out to see those.
 */
export class DuplicateIndex {
  private keyer: RowKeyer | undefined;
  private readonly groups: SplitGroups;

  constructor(options: DuplicateIndexOptions = {}) {
    this.groups = new SplitGroups(maxExamples(options), options.expectedRows ?? 0);
  }

  /**
   * Adds one row. Every row must have as many values as the first.
   *
   * @param rowNumber - what examples call this row; default the count of rows added, from 1.
   * @throws SealtrainError `ERR_USAGE_INVALID` for an unknown split or a row of another width.
   */
  add(row: ArrayLike<number>, split: SplitKey, rowNumber = this.groups.size + 1): void {
    this.keyer ??= new RowKeyer(row.length);
    this.keyer.hash(row);
    this.groups.add(this.keyer.h1, this.keyer.h2, splitCode(split), rowNumber);
  }

  /** Counts and examples over every row added so far. */
  report(): DuplicateReport {
    return this.groups.report();
  }
}

/**
 * Finds near-identical rows by quantised hashing: each value is rounded to a multiple of its
 * column's quantum (`Math.round(value / quantum)`; a quantum of 0 keeps the column exact) and
 * rows whose rounded vectors are equal count as duplicates, reported like
 * {@link DuplicateIndex} (exact duplicates are included).
 *
 * This catches rows that differ by tiny perturbations, such as a copied record re-exported with
 * fewer digits or nudged by noise, not every close pair: two values a hair apart on either side
 * of a rounding boundary fall into different cells, so a perturbation smaller than half a quantum
 * is caught when it does not cross a boundary, and one larger than a quantum almost never is.
 * Choose quanta from each column's scale (see {@link nearDuplicateQuanta}); coarser quanta catch
 * more perturbation and also merge more rows that are merely similar.
 */
export class NearDuplicateIndex {
  private readonly keyer: RowKeyer;
  private readonly groups: SplitGroups;

  /**
   * @param quanta - the rounding step for each column, finite and ≥ 0; rows must have this many values.
   * @throws SealtrainError `ERR_USAGE_INVALID` for no columns or a negative or non-finite quantum.
   */
  constructor(quanta: ArrayLike<number>, options: DuplicateIndexOptions = {}) {
    this.keyer = new RowKeyer(quanta.length, quanta);
    this.groups = new SplitGroups(maxExamples(options), options.expectedRows ?? 0);
  }

  /**
   * Adds one row.
   *
   * @param rowNumber - what examples call this row; default the count of rows added, from 1.
   * @throws SealtrainError `ERR_USAGE_INVALID` for an unknown split or a row of another width.
   */
  add(row: ArrayLike<number>, split: SplitKey, rowNumber = this.groups.size + 1): void {
    this.keyer.hash(row);
    this.groups.add(this.keyer.h1, this.keyer.h2, splitCode(split), rowNumber);
  }

  /** Counts and examples over every row added so far. */
  report(): DuplicateReport {
    return this.groups.report();
  }
}

/** Options for {@link nearDuplicateQuanta}. */
export interface NearDuplicateQuantaOptions {
  /** The quantum as a share of each column's scale; default 1e-3. */
  readonly fraction?: number;
  /** The scale: `std` (default) or `range` (max − min). */
  readonly basis?: 'std' | 'range';
}

/**
 * Per-column quanta for {@link NearDuplicateIndex}: `fraction` × each column's standard
 * deviation (or range). A constant or empty column gets 0, so it is compared exactly.
 */
export function nearDuplicateQuanta(
  columns: readonly { readonly std: number; readonly min: number; readonly max: number }[],
  options: NearDuplicateQuantaOptions = {},
): Float64Array {
  const fraction = options.fraction ?? 1e-3;
  if (!(Number.isFinite(fraction) && fraction > 0)) {
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `The quantum fraction must be a finite number > 0, not ${fraction}.`,
    );
  }
  return Float64Array.from(columns, (c) => {
    const scale = options.basis === 'range' ? c.max - c.min : c.std;
    return Number.isFinite(scale) && scale > 0 ? fraction * scale : 0;
  });
}
