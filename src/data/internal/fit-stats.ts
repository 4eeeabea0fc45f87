import { SealtrainError } from '../../errors/index.js';
import type { ColumnSpec } from '../schema.js';
import { ColumnStats } from './column-stats.js';
import { convertValue } from './convert.js';

/** One column fitted on the training rows: the imputed value, and statistics after imputation. */
export interface FittedColumn {
  readonly impute: number | undefined;
  readonly stats: ColumnStats;
}

/** The k-th smallest of `v[0..n)` (0-based), reordering `v` (Hoare's selection, median-of-three). */
function select(v: Float32Array, n: number, k: number): number {
  let lo = 0;
  let hi = n - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    const a = v[lo] as number;
    const b = v[mid] as number;
    const c = v[hi] as number;
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((v[i] as number) < pivot) i++;
      while ((v[j] as number) > pivot) j--;
      if (i <= j) {
        const t = v[i] as number;
        v[i] = v[j] as number;
        v[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return v[k] as number;
  }
  return v[lo] as number;
}

/**
 * The median of the sorted values whose ranks `base` to `base + v.length − 1` are in `v`: the
 * value of rank `n >> 1`, or for an even `n` the mean of it and the largest value below it.
 */
function medianOf(v: Float32Array, n = v.length, base = 0): number {
  const k = (n >> 1) - base;
  const upper = select(v, v.length, k);
  if (n % 2 === 1) return upper;
  let lower = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < k; i++) lower = Math.max(lower, v[i] as number);
  return (lower + upper) / 2;
}

function modeOf(v: Float32Array): number {
  const sorted = v.slice().sort();
  let best = sorted[0] as number;
  let bestRun = 0;
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j < sorted.length && sorted[j] === sorted[i]) j++;
    if (j - i > bestRun) {
      bestRun = j - i;
      best = sorted[i] as number;
    }
    i = j;
  }
  return best;
}

/**
 * Median buckets: the top 12 bits of a float32's order key (sign, exponent, 3 bits of mantissa),
 * 16 KiB of counts per column, small enough to stay in the cache while the rows stream past.
 */
const BUCKET_SHIFT = 20;
const BUCKETS = 1 << (32 - BUCKET_SHIFT);
/** The buckets of -0 and +0 (and the smallest magnitudes): a median there goes the long way. */
const NEAR_ZERO = [0x7fffffff >>> BUCKET_SHIFT, 0x80000000 >>> BUCKET_SHIFT];

/** The order key of a float32 given as its bits: unsigned keys sort as the values do (-0 just below +0). */
function orderKey(bits: number): number {
  return (bits ^ ((bits >> 31) | 0x80000000)) >>> 0;
}

/** Running count, mean, M2, minimum and maximum per column, updated as `ColumnStats.add` does. */
class Moments {
  readonly count: Float64Array;
  readonly skipped: Float64Array;
  readonly mean: Float64Array;
  readonly m2: Float64Array;
  readonly min: Float64Array;
  readonly max: Float64Array;

  constructor(width: number) {
    this.count = new Float64Array(width);
    this.skipped = new Float64Array(width);
    this.mean = new Float64Array(width);
    this.m2 = new Float64Array(width);
    this.min = new Float64Array(width).fill(Number.POSITIVE_INFINITY);
    this.max = new Float64Array(width).fill(Number.NEGATIVE_INFINITY);
  }

  add(j: number, x: number): void {
    if (!Number.isFinite(x)) {
      this.skipped[j] = (this.skipped[j] as number) + 1;
      return;
    }
    const n = (this.count[j] as number) + 1;
    this.count[j] = n;
    const mean = this.mean[j] as number;
    const delta = x - mean;
    const next = mean + delta / n;
    this.mean[j] = next;
    this.m2[j] = (this.m2[j] as number) + delta * (x - next);
    if (x < (this.min[j] as number)) this.min[j] = x;
    if (x > (this.max[j] as number)) this.max[j] = x;
  }

  stats(j: number): ColumnStats {
    return ColumnStats.fromMoments({
      count: this.count[j] as number,
      skipped: this.skipped[j] as number,
      mean: this.mean[j] as number,
      sumSquares: this.m2[j] as number,
      min: this.min[j] as number,
      max: this.max[j] as number,
    });
  }
}

/**
 * The training rows' finite values of the columns `of` (by position), each into its own array of
 * `sizes[s]`; with `buckets`, only the values in buckets `buckets[2s]` to `buckets[2s + 1]`.
 */
function copyColumns(
  values: Float32Array,
  width: number,
  rows: number,
  split: Uint8Array,
  of: readonly number[],
  sizes: readonly number[],
  buckets: Int32Array = Int32Array.from(of.flatMap(() => [0, BUCKETS - 1])),
): Float32Array[] {
  const copies = sizes.map((n) => new Float32Array(n));
  const filled = new Int32Array(of.length);
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let r = 0; r < rows; r++) {
    if (split[r] !== 0) continue;
    const base = r * width;
    for (let s = 0; s < of.length; s++) {
      const at = base + (of[s] as number);
      const x = values[at] as number;
      if (!Number.isFinite(x)) continue;
      const b = orderKey(bits[at] as number) >>> BUCKET_SHIFT;
      if (b < (buckets[2 * s] as number) || b > (buckets[2 * s + 1] as number)) continue;
      (copies[s] as Float32Array)[filled[s] as number] = x;
      filled[s] = (filled[s] as number) + 1;
    }
  }
  return copies;
}

/**
 * Medians of the columns `of` from their bucket counts: the bucket(s) of the middle rank(s) are
 * found by counting, only their values are copied out (one pass), and the median is selected
 * among them. The value is the one a selection over all of the column's values gives; where it
 * is zero or a value that small (-0 and +0 compare equal, and which one such a selection returns
 * depends on where each sits), the column's values are all copied out and selected as before.
 */
function medians(
  values: Float32Array,
  width: number,
  rows: number,
  split: Uint8Array,
  of: readonly number[],
  counts: readonly number[],
  histogram: Uint32Array,
): number[] {
  const plan = of.map((_, s) => {
    const n = counts[s] as number;
    const ranks = n % 2 === 1 ? [n >> 1] : [(n >> 1) - 1, n >> 1];
    const found: number[] = [];
    let below = 0;
    let base = 0;
    for (let b = 0; b < BUCKETS && found.length < ranks.length; b++) {
      const inBucket = histogram[s * BUCKETS + b] as number;
      while (found.length < ranks.length && (ranks[found.length] as number) < below + inBucket) {
        if (found.length === 0) base = below;
        found.push(b);
      }
      below += inBucket;
    }
    const first = found[0] as number;
    const last = found[found.length - 1] as number;
    const exact = NEAR_ZERO.includes(first) || NEAR_ZERO.includes(last);
    let size = 0;
    if (!exact) for (let b = first; b <= last; b++) size += histogram[s * BUCKETS + b] as number;
    return { n, first, last, base: exact ? 0 : base, size: exact ? n : size, exact };
  });
  const buckets = Int32Array.from(plan.flatMap((p) => (p.exact ? [0, BUCKETS - 1] : [p.first, p.last])));
  const copies = copyColumns(
    values,
    width,
    rows,
    split,
    of,
    plan.map((p) => p.size),
    buckets,
  );
  return plan.map((p, s) => medianOf(copies[s] as Float32Array, p.n, p.base));
}

/**
 * Fits every column on the training rows (`split[r] === 0`) of the row-major `values` in one
 * pass over the matrix, not one per column: running mean and variance (Welford), min and max, a
 * category's or boolean's counts, and for a median the counts of its values' buckets; then the
 * imputed value (mean; median, from the values of the middle bucket only; a number column's mode
 * over its training values, copied out; a category's or boolean's mode by counting; a constant);
 * then every missing cell (NaN) of every split is filled, in the rows `imputedRows` lists (every
 * row is looked at without it), and the statistics take in the filled training cells.
 */
export function fitColumns(
  columns: readonly ColumnSpec[],
  values: Float32Array,
  rows: number,
  split: Uint8Array,
  categories: readonly (ReadonlyMap<string, number> | undefined)[],
  imputedRows?: ArrayLike<number>,
): FittedColumn[] {
  const w = columns.length;
  const moments = new Moments(w);
  const counting = columns.map((c) =>
    c.impute === 'mode' && (c.type === 'category' || c.type === 'boolean')
      ? new Float64Array(c.type === 'boolean' ? 2 : (c.categories?.length ?? 0))
      : undefined,
  );
  const medianColumns = columns.flatMap((c, j) => (c.impute === 'median' ? [j] : []));
  // Per column: its slot in the bucket counts, or -1.
  const bucketSlot = new Int32Array(w).fill(-1);
  medianColumns.forEach((j, s) => {
    bucketSlot[j] = s;
  });
  const histogram = new Uint32Array(medianColumns.length * BUCKETS);
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let r = 0; r < rows; r++) {
    if (split[r] !== 0) continue;
    const base = r * w;
    for (let j = 0; j < w; j++) {
      const x = values[base + j] as number;
      if (Number.isNaN(x)) continue;
      moments.add(j, x);
      const slot = bucketSlot[j] as number;
      if (slot >= 0 && Number.isFinite(x)) {
        const at = slot * BUCKETS + (orderKey(bits[base + j] as number) >>> BUCKET_SHIFT);
        histogram[at] = (histogram[at] as number) + 1;
      }
      const counts = counting[j];
      if (counts !== undefined) counts[x] = (counts[x] as number) + 1;
    }
  }
  const modeColumns = columns.flatMap((c, j) =>
    c.impute === 'mode' && counting[j] === undefined ? [j] : [],
  );
  const modeCopies = copyColumns(
    values,
    w,
    rows,
    split,
    modeColumns,
    modeColumns.map((j) => moments.count[j] as number),
  );
  const medianValues = medians(
    values,
    w,
    rows,
    split,
    medianColumns.filter((j) => (moments.count[j] as number) > 0),
    medianColumns.flatMap((j) => ((moments.count[j] as number) > 0 ? [moments.count[j] as number] : [])),
    histogram,
  );
  const impute = columns.map((c, j) => {
    if (c.impute === undefined) return undefined;
    if (typeof c.impute === 'object') {
      const converted = convertValue(c, c.impute.constant, categories[j]);
      if (!converted.ok) {
        throw new SealtrainError(
          'ERR_DATA_SCHEMA_INVALID',
          `The impute constant of column "${c.name}" does not fit the column.`,
          {
            details: { column: c.name },
          },
        );
      }
      return converted.value;
    }
    if ((moments.count[j] as number) === 0) {
      throw new SealtrainError(
        'ERR_DATA_INVALID',
        `Column "${c.name}" has no value in the training split to impute from (${c.impute}).`,
        { details: { column: c.name } },
      );
    }
    if (c.impute === 'mean') return moments.mean[j] as number;
    const counts = counting[j];
    if (counts !== undefined) {
      let best = 0;
      for (let k = 1; k < counts.length; k++) if ((counts[k] as number) > (counts[best] as number)) best = k;
      return best;
    }
    if (c.impute === 'median') return medianValues.shift() as number;
    return modeOf(modeCopies[modeColumns.indexOf(j)] as Float32Array);
  });
  if (impute.some((v) => v !== undefined)) {
    const fillRow = (r: number): void => {
      const base = r * w;
      for (let j = 0; j < w; j++) {
        const fill = impute[j];
        if (fill === undefined || !Number.isNaN(values[base + j] as number)) continue;
        values[base + j] = fill;
        if (split[r] === 0) moments.add(j, values[base + j] as number);
      }
    };
    if (imputedRows === undefined) for (let r = 0; r < rows; r++) fillRow(r);
    else for (let i = 0; i < imputedRows.length; i++) fillRow(imputedRows[i] as number);
  }
  return columns.map((_, j) => ({ impute: impute[j], stats: moments.stats(j) }));
}
