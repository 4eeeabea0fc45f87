import { SealtrainError } from '../errors/index.js';
import { convertValue } from './internal/convert.js';
import { type FittedColumn, fitColumns } from './internal/fit-stats.js';

export type { FittedColumn } from './internal/fit-stats.js';

import type { RawValue } from './records.js';
import type { ColumnSpec, DatasetSchema } from './schema.js';

/** One feature column's fitted transform, with the output columns it produces. */
export type FeatureTransform =
  | {
      readonly column: string;
      readonly kind: 'zscore';
      readonly mean: number;
      readonly std: number;
      readonly impute?: number;
      readonly outputs: readonly string[];
    }
  | {
      readonly column: string;
      readonly kind: 'minmax';
      readonly min: number;
      readonly max: number;
      readonly impute?: number;
      readonly outputs: readonly string[];
    }
  | {
      readonly column: string;
      readonly kind: 'none' | 'boolean';
      readonly impute?: number;
      readonly outputs: readonly string[];
    }
  | {
      readonly column: string;
      readonly kind: 'onehot';
      readonly categories: readonly string[];
      readonly impute?: number;
      readonly outputs: readonly string[];
    };

/**
 * Everything fitted on the training split, saved as `transform.json` so that inference applies
 * exactly the same imputation, scaling and encoding. Values are plain numbers (no NaN).
 */
export interface FittedTransform {
  readonly version: 1;
  readonly features: readonly FeatureTransform[];
  readonly label:
    | { readonly column: string; readonly kind: 'classes'; readonly classes: readonly string[] }
    | { readonly column: string; readonly kind: 'value' };
  /** Output feature names, in order. */
  readonly outputs: readonly string[];
}

/** The raw matrix the pipeline builds: rows × feature columns (schema order, label excluded), NaN where imputed. */
export interface RawMatrix {
  readonly values: Float32Array;
  readonly rows: number;
  readonly columns: readonly ColumnSpec[];
}

/** The index of each category of a category column. */
export function categoryIndex(c: ColumnSpec): Map<string, number> | undefined {
  return c.categories === undefined ? undefined : new Map(c.categories.map((name, i) => [name, i]));
}

/**
 * Fits imputation, normalisation and one-hot encoding on the training rows only (`split[r] === 0`)
 * and fills the imputed cells of `m` in place (in every split, with the training values).
 * `onColumns` receives each column's training statistics after imputation (the leakage checks
 * reuse them instead of passing over the rows again). `imputedRows`, when given, lists every row
 * with a cell to impute (NaN), in order, so that only those are looked at (`ingest` gives it).
 */
export function fitTransform(
  schema: DatasetSchema,
  m: RawMatrix,
  split: Uint8Array,
  options: {
    readonly onColumns?: (fitted: readonly FittedColumn[]) => void;
    readonly imputedRows?: ArrayLike<number>;
  } = {},
): FittedTransform {
  const fitted = fitColumns(
    m.columns,
    m.values,
    m.rows,
    split,
    m.columns.map(categoryIndex),
    options.imputedRows,
  );
  options.onColumns?.(fitted);
  const features: FeatureTransform[] = m.columns.map((c, j) => {
    const { impute, stats } = fitted[j] as FittedColumn;
    // An empty training column keeps neutral parameters (mean 0, std 1, range 0..1).
    const f = {
      impute,
      mean: stats.count > 0 ? stats.mean : 0,
      std: stats.count > 1 ? Math.sqrt(stats.sampleVariance) : 0,
      min: stats.count > 0 ? stats.min : 0,
      max: stats.count > 0 ? stats.max : 1,
    };
    const extra = f.impute === undefined ? {} : { impute: f.impute };
    if (c.type === 'category') {
      const categories = c.categories ?? [];
      return {
        column: c.name,
        kind: 'onehot',
        categories,
        ...extra,
        outputs: categories.map((k) => `${c.name}=${k}`),
      };
    }
    if (c.type === 'boolean') return { column: c.name, kind: 'boolean', ...extra, outputs: [c.name] };
    const kind = c.normalize ?? 'none';
    if (kind === 'zscore') {
      return { column: c.name, kind, mean: f.mean, std: f.std > 0 ? f.std : 1, ...extra, outputs: [c.name] };
    }
    if (kind === 'minmax') {
      return {
        column: c.name,
        kind,
        min: f.min,
        max: f.max > f.min ? f.max : f.min + 1,
        ...extra,
        outputs: [c.name],
      };
    }
    return { column: c.name, kind: 'none', ...extra, outputs: [c.name] };
  });
  const labelColumn = schema.columns.find((c) => c.name === schema.label) as ColumnSpec;
  const label =
    labelColumn.type === 'category'
      ? { column: labelColumn.name, kind: 'classes' as const, classes: labelColumn.categories ?? [] }
      : { column: labelColumn.name, kind: 'value' as const };
  return { version: 1, features, label, outputs: features.flatMap((f) => f.outputs) };
}

/** Writes the transformed features of one raw row (already converted and imputed) into `out` at `offset`. */
export function transformRow(
  t: FittedTransform,
  raw: ArrayLike<number>,
  out: Float32Array,
  offset: number,
): void {
  let o = offset;
  t.features.forEach((f, j) => {
    const v = raw[j] as number;
    switch (f.kind) {
      case 'zscore':
        out[o++] = (v - f.mean) / f.std;
        break;
      case 'minmax':
        out[o++] = (v - f.min) / (f.max - f.min);
        break;
      case 'onehot':
        for (let k = 0; k < f.categories.length; k++) out[o++] = k === v ? 1 : 0;
        break;
      default:
        out[o++] = v;
    }
  });
}

/**
 * {@link transformRow} compiled for many rows: the transform's kinds and parameters are laid out
 * in arrays once, and the returned function writes row `row` of the row-major raw `values`
 * (already converted and imputed) into `out` at `offset`, without a copy of the row. The same
 * arithmetic, so the same float32 values.
 */
export function rowTransformer(
  t: FittedTransform,
): (values: Float32Array, row: number, out: Float32Array, offset: number) => void {
  const n = t.features.length;
  // 0: as it is; 1: (v − a) / b (z-score: mean and std; min-max: min and max − min); 2: one-hot of `width`.
  const kind = new Uint8Array(n);
  const a = new Float64Array(n);
  const b = new Float64Array(n);
  const width = new Int32Array(n);
  t.features.forEach((f, j) => {
    if (f.kind === 'zscore') [kind[j], a[j], b[j]] = [1, f.mean, f.std];
    else if (f.kind === 'minmax') [kind[j], a[j], b[j]] = [1, f.min, f.max - f.min];
    else if (f.kind === 'onehot') [kind[j], width[j]] = [2, f.categories.length];
  });
  return (values, row, out, offset) => {
    let o = offset;
    const base = row * n;
    for (let j = 0; j < n; j++) {
      const v = values[base + j] as number;
      const k = kind[j] as number;
      if (k === 1) out[o++] = (v - (a[j] as number)) / (b[j] as number);
      else if (k === 0) out[o++] = v;
      else for (let c = 0; c < (width[j] as number); c++) out[o++] = c === v ? 1 : 0;
    }
  };
}

/**
 * Inference: converts and transforms one record given as raw values by column name, exactly as
 * the training data was. A missing value takes the fitted imputation, or fails.
 */
export function transformRecord(
  t: FittedTransform,
  schema: DatasetSchema,
  record: Readonly<Record<string, RawValue>>,
): Float32Array {
  const columns = schema.columns.filter((c) => c.name !== schema.label);
  const raw = Float32Array.from(columns, (c, j) => {
    const converted = convertValue(c, record[c.name] ?? null, categoryIndex(c));
    if (converted.ok) return converted.value;
    const impute = t.features[j]?.impute;
    if (converted.missing && impute !== undefined) return impute;
    throw new SealtrainError(
      'ERR_DATA_INVALID',
      `Column "${c.name}": ${converted.missing ? 'the value is missing' : converted.detail}.`,
      { details: { column: c.name } },
    );
  });
  const out = new Float32Array(t.outputs.length);
  transformRow(t, raw, out, 0);
  return out;
}
