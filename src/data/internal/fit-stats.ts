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

function medianOf(v: Float32Array): number {
  const n = v.length;
  const upper = select(v, n, n >> 1);
  if (n % 2 === 1) return upper;
  let lower = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n >> 1; i++) lower = Math.max(lower, v[i] as number);
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
 * Fits every column on the training rows (`split[r] === 0`) of the row-major `values` in two
 * passes over the matrix, not one per column: running mean and variance (Welford), min and max;
 * the imputed value (mean; median by selection and mode over the column's training values, which
 * are copied out for those columns only; a category's or boolean's mode by counting; a constant);
 * then every missing cell (NaN) of every split is filled and the statistics take in the filled
 * training cells.
 */
export function fitColumns(
  columns: readonly ColumnSpec[],
  values: Float32Array,
  rows: number,
  split: Uint8Array,
  categories: readonly (ReadonlyMap<string, number> | undefined)[],
): FittedColumn[] {
  const w = columns.length;
  const stats = columns.map(() => new ColumnStats());
  const counting = columns.map((c) =>
    c.impute === 'mode' && (c.type === 'category' || c.type === 'boolean')
      ? new Float64Array(c.type === 'boolean' ? 2 : (c.categories?.length ?? 0))
      : undefined,
  );
  const copying = columns.map(
    (c, j) => c.impute === 'median' || (c.impute === 'mode' && counting[j] === undefined),
  );
  for (let r = 0; r < rows; r++) {
    if (split[r] !== 0) continue;
    const base = r * w;
    for (let j = 0; j < w; j++) {
      const x = values[base + j] as number;
      if (Number.isNaN(x)) continue;
      (stats[j] as ColumnStats).add(x);
      const counts = counting[j];
      if (counts !== undefined) counts[x] = (counts[x] as number) + 1;
    }
  }
  const copies = columns.map((_, j) =>
    copying[j] ? new Float32Array((stats[j] as ColumnStats).count) : undefined,
  );
  if (copies.some((c) => c !== undefined)) {
    const filled = new Int32Array(w);
    for (let r = 0; r < rows; r++) {
      if (split[r] !== 0) continue;
      for (let j = 0; j < w; j++) {
        const copy = copies[j];
        const x = values[r * w + j] as number;
        if (copy === undefined || !Number.isFinite(x)) continue;
        copy[filled[j] as number] = x;
        filled[j] = (filled[j] as number) + 1;
      }
    }
  }
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
    if ((stats[j] as ColumnStats).count === 0) {
      throw new SealtrainError(
        'ERR_DATA_INVALID',
        `Column "${c.name}" has no value in the training split to impute from (${c.impute}).`,
        { details: { column: c.name } },
      );
    }
    if (c.impute === 'mean') return (stats[j] as ColumnStats).mean;
    const counts = counting[j];
    if (counts !== undefined) {
      let best = 0;
      for (let k = 1; k < counts.length; k++) if ((counts[k] as number) > (counts[best] as number)) best = k;
      return best;
    }
    const copy = copies[j] as Float32Array;
    return c.impute === 'median' ? medianOf(copy) : modeOf(copy);
  });
  if (impute.some((v) => v !== undefined)) {
    for (let r = 0; r < rows; r++) {
      const base = r * w;
      for (let j = 0; j < w; j++) {
        const fill = impute[j];
        if (fill === undefined || !Number.isNaN(values[base + j] as number)) continue;
        values[base + j] = fill;
        if (split[r] === 0) (stats[j] as ColumnStats).add(values[base + j] as number);
      }
    }
  }
  return columns.map((_, j) => ({ impute: impute[j], stats: stats[j] as ColumnStats }));
}
