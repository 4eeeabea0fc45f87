import { SealtrainError } from '../errors/index.js';
import { convertValue } from './internal/convert.js';
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

function trainValues(m: RawMatrix, j: number, split: Uint8Array): Float64Array {
  const width = m.columns.length;
  let n = 0;
  for (let r = 0; r < m.rows; r++) if (split[r] === 0 && !Number.isNaN(m.values[r * width + j])) n++;
  const out = new Float64Array(n);
  n = 0;
  for (let r = 0; r < m.rows; r++) {
    const v = m.values[r * width + j] as number;
    if (split[r] === 0 && !Number.isNaN(v)) out[n++] = v;
  }
  return out;
}

function mean(v: Float64Array): number {
  let s = 0;
  for (const x of v) s += x;
  return v.length > 0 ? s / v.length : 0;
}

function imputeValue(c: ColumnSpec, v: Float64Array): number | undefined {
  if (c.impute === undefined) return undefined;
  if (typeof c.impute === 'object') {
    const converted = convertValue(c, c.impute.constant, categoryIndex(c));
    if (!converted.ok) {
      throw new SealtrainError(
        'ERR_DATA_SCHEMA_INVALID',
        `The impute constant of column "${c.name}" does not fit the column.`,
      );
    }
    return converted.value;
  }
  if (v.length === 0) {
    throw new SealtrainError(
      'ERR_DATA_INVALID',
      `Column "${c.name}" has no value in the training split to impute from (${c.impute}).`,
      { details: { column: c.name } },
    );
  }
  if (c.impute === 'mean') return mean(v);
  if (c.impute === 'median') {
    const sorted = Float64Array.from(v).sort();
    const mid = sorted.length >> 1;
    return sorted.length % 2 === 1
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  }
  const counts = new Map<number, number>();
  for (const x of v) counts.set(x, (counts.get(x) ?? 0) + 1);
  let best = v[0] as number;
  for (const [x, n] of counts)
    if (n > (counts.get(best) ?? 0) || (n === counts.get(best) && x < best)) best = x;
  return best;
}

/** The index of each category of a category column. */
export function categoryIndex(c: ColumnSpec): Map<string, number> | undefined {
  return c.categories === undefined ? undefined : new Map(c.categories.map((name, i) => [name, i]));
}

/**
 * Fits imputation, normalisation and one-hot encoding on the training rows only (`split[r] === 0`)
 * and fills the imputed cells of `m` in place (in every split, with the training values).
 */
export function fitTransform(schema: DatasetSchema, m: RawMatrix, split: Uint8Array): FittedTransform {
  const width = m.columns.length;
  const features: FeatureTransform[] = m.columns.map((c, j) => {
    let values = trainValues(m, j, split);
    const impute = imputeValue(c, values);
    if (impute !== undefined) {
      for (let r = 0; r < m.rows; r++)
        if (Number.isNaN(m.values[r * width + j])) m.values[r * width + j] = impute;
      values = trainValues(m, j, split);
    }
    const extra = impute === undefined ? {} : { impute };
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
      const mu = mean(values);
      let ss = 0;
      for (const x of values) ss += (x - mu) * (x - mu);
      const std = values.length > 1 ? Math.sqrt(ss / (values.length - 1)) : 0;
      return { column: c.name, kind, mean: mu, std: std > 0 ? std : 1, ...extra, outputs: [c.name] };
    }
    if (kind === 'minmax') {
      let min = Number.POSITIVE_INFINITY;
      let max = Number.NEGATIVE_INFINITY;
      for (const x of values) {
        min = Math.min(min, x);
        max = Math.max(max, x);
      }
      if (values.length === 0) [min, max] = [0, 1];
      return { column: c.name, kind, min, max: max > min ? max : min + 1, ...extra, outputs: [c.name] };
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
