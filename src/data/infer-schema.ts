import { SealtrainError } from '../errors/index.js';
import { isMissing, parseNumber } from './internal/convert.js';
import { isProblem, type RecordSource } from './records.js';
import { type DatasetSchema, type DatasetSchemaInput, parseDatasetSchema } from './schema.js';

/** Options for {@link inferSchema}. */
export interface InferOptions {
  /** The label column; default: the last column. */
  readonly label?: string;
  /** Rows to look at (default 10,000). */
  readonly sampleRows?: number;
  /** A text column with more distinct values than this is not a category (default 100). */
  readonly maxCategories?: number;
}

interface Seen {
  nonMissing: number;
  missing: number;
  numeric: number;
  integer: number;
  boolean: number;
  distinct: Set<string>;
}

const BOOLEAN = new Set(['true', 'false', 'yes', 'no']);

/**
 * Proposes a schema from the first rows, for review: numbers (integer when every value is whole),
 * booleans, categories (at most `maxCategories` distinct texts that repeat, each on average at
 * least twice, listed in sorted order), and free text or identifier-like columns put in `ignore`. Features are z-scored; a feature with missing
 * values imputes the training median (numbers) or mode (others); a missing label drops the row.
 * The label is a category unless it is numeric with more than 20 distinct values (regression).
 */
export async function inferSchema(source: RecordSource, options: InferOptions = {}): Promise<DatasetSchema> {
  const label = options.label ?? source.columns[source.columns.length - 1];
  if (label === undefined || !source.columns.includes(label)) {
    throw new SealtrainError(
      'ERR_DATA_SCHEMA_MISMATCH',
      `${source.path} has no column "${label}" to use as the label; its columns are ${source.columns.map((c) => `"${c}"`).join(', ')}.`,
      { details: { path: source.path, column: String(label) } },
    );
  }
  const limit = options.sampleRows ?? 10_000;
  const maxCategories = options.maxCategories ?? 100;
  const seen: Seen[] = source.columns.map(() => ({
    nonMissing: 0,
    missing: 0,
    numeric: 0,
    integer: 0,
    boolean: 0,
    distinct: new Set(),
  }));
  let rows = 0;
  for await (const item of source.rows()) {
    if (isProblem(item)) continue;
    item.values.forEach((v, i) => {
      const s = seen[i] as Seen;
      if (isMissing(v)) {
        s.missing++;
        return;
      }
      s.nonMissing++;
      const n = parseNumber(v);
      if (Number.isFinite(n)) {
        s.numeric++;
        if (Number.isInteger(n)) s.integer++;
      }
      const text = String(v).trim();
      if (typeof v === 'boolean' || BOOLEAN.has(text.toLowerCase())) s.boolean++;
      if (s.distinct.size <= Math.max(maxCategories, 20)) s.distinct.add(text);
    });
    if (++rows >= limit) break;
  }
  const columns: DatasetSchemaInput['columns'] = [];
  const ignore: string[] = [];
  source.columns.forEach((name, i) => {
    const s = seen[i] as Seen;
    const isLabel = name === label;
    const feature = { missing: isLabel ? 'drop' : s.missing > 0 ? 'impute' : 'fail' } as const;
    if (s.nonMissing > 0 && s.numeric === s.nonMissing && !(isLabel && s.distinct.size <= 20)) {
      const type = s.integer === s.nonMissing ? 'integer' : 'number';
      columns.push(
        isLabel
          ? { name, type: 'number', missing: 'drop' }
          : { name, type, ...feature, ...(s.missing > 0 ? { impute: 'median' } : {}), normalize: 'zscore' },
      );
    } else if (!isLabel && s.nonMissing > 0 && s.boolean === s.nonMissing) {
      columns.push({ name, type: 'boolean', ...feature, ...(s.missing > 0 ? { impute: 'mode' } : {}) });
    } else if (
      s.distinct.size > 0 &&
      s.distinct.size <= maxCategories &&
      (isLabel || s.distinct.size * 2 <= s.nonMissing)
    ) {
      // A text column is a category when its values repeat; mostly-unique text (names, ids) is
      // left out, so that it is neither a feature nor listed in schema.json.
      const categories = [...s.distinct].sort((a, b) => {
        const na = Number(a);
        const nb = Number(b);
        return Number.isFinite(na) && Number.isFinite(nb) ? na - nb : a < b ? -1 : a > b ? 1 : 0;
      });
      columns.push({
        name,
        type: 'category',
        categories,
        ...feature,
        ...(!isLabel && s.missing > 0 ? { impute: 'mode' } : {}),
      });
    } else if (isLabel && s.nonMissing === 0) {
      throw new SealtrainError(
        'ERR_DATA_SCHEMA_INVALID',
        `The label column "${label}" of ${source.path} has no values in the first ${rows} rows.`,
        { details: { path: source.path, column: label } },
      );
    } else if (isLabel) {
      throw new SealtrainError(
        'ERR_DATA_SCHEMA_INVALID',
        `The label column "${label}" of ${source.path} has more than ${maxCategories} distinct non-numeric values; write a schema for it.`,
        { details: { path: source.path, column: label } },
      );
    } else {
      ignore.push(name);
    }
  });
  return parseDatasetSchema({ version: 1, label, columns, ignore }, `inferred from ${source.path}`);
}
