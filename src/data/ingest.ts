import { SealtrainError } from '../errors/index.js';
import { convertValue, fastNumber, type InvalidReason, plainCategories } from './internal/convert.js';
import { Growing } from './internal/growing.js';
import { isProblem, type RawRecord, type RecordSource } from './records.js';
import { type ColumnSpec, type DatasetSchema, matchColumns } from './schema.js';
import { categoryIndex, type RawMatrix } from './transform.js';

/** Per-column counts of what validation found. */
export interface ColumnReport {
  missing: number;
  type: number;
  notFinite: number;
  range: number;
  category: number;
  imputed: number;
  dropped: number;
}

/** One error, as reported: where and what. */
export interface DataError {
  readonly row: number;
  readonly line?: number;
  readonly column?: string;
  readonly message: string;
}

/** What reading and validating the input found. */
export interface IngestReport {
  rowsRead: number;
  rowsKept: number;
  rowsDropped: number;
  cellsImputed: number;
  readerProblems: number;
  columns: Record<string, ColumnReport>;
  /** The first `maxErrors` errors. */
  errors: DataError[];
  errorCount: number;
}

/** The validated rows in memory: the raw matrix (NaN where a value will be imputed) and labels. */
export interface Ingested {
  readonly matrix: RawMatrix;
  /** Class indices (classification) or target values (regression), one per kept row. */
  readonly labels: Int32Array | Float32Array;
  /** The input row number of each kept row. */
  readonly sourceRows: Int32Array;
  /** The kept rows (indices into the matrix) with a cell to impute (NaN), in order. */
  readonly imputedRows: Int32Array;
  readonly report: IngestReport;
}

/** Options for {@link ingest}. */
export interface IngestOptions {
  /** Stop after this many errors (default 10); any error fails the run. */
  readonly maxErrors?: number;
  /** Called now and then with bytes read and the total when known. */
  readonly onProgress?: (bytes: number, total: number | undefined) => void;
  /** Largest raw matrix in bytes (default and most: 4 GiB, the largest resizable buffer). */
  readonly maxMatrixBytes?: number;
  /**
   * Called with the matrix as the rows arrive: rows `from` to `to` (exclusive) are final, except
   * for their cells to impute (NaN). Every kept row is passed once, in order, the last ones
   * before `ingest` returns. The matrix may move as it grows: use `values` only during the call.
   */
  readonly onRows?: (values: Float32Array, from: number, to: number) => void;
}

/** Kept rows between calls of {@link IngestOptions.onRows}. */
const ROWS_PER_CALL = 4096;

function emptyColumn(): ColumnReport {
  return { missing: 0, type: 0, notFinite: 0, range: 0, category: 0, imputed: 0, dropped: 0 };
}

const REASON_FIELD: Record<InvalidReason, keyof ColumnReport> = {
  type: 'type',
  'not-finite': 'notFinite',
  range: 'range',
  category: 'category',
};

/**
 * Reads every row of `source`, converts each value by its column's type, and applies the
 * column's policy to missing and invalid values: `fail` records an error (all are reported up to
 * `maxErrors`, then the run fails with `ERR_DATA_INVALID`), `drop` leaves the row out, `impute`
 * marks the cell for the value fitted on the training split. Keeps the rows in memory: 4 bytes
 * per feature cell, plus 8 per row and 4 per row with a cell to impute.
 */
export async function ingest(
  source: RecordSource,
  schema: DatasetSchema,
  options: IngestOptions = {},
): Promise<Ingested> {
  const maxErrors = options.maxErrors ?? 10;
  const positions = matchColumns(schema, source.columns, source.path);
  const specs = schema.columns;
  const labelAt = specs.findIndex((c) => c.name === schema.label);
  const features = specs.filter((_, i) => i !== labelAt);
  const featurePositions = positions.filter((_, i) => i !== labelAt);
  const labelSpec = specs[labelAt] as ColumnSpec;
  const labelPosition = positions[labelAt] as number;
  const cats = specs.map(categoryIndex);
  const featureCats = cats.filter((_, i) => i !== labelAt);
  const featurePlain = features.map(plainCategories);
  const labelPlain = plainCategories(labelSpec);
  const width = features.length;
  const max = Math.min(options.maxMatrixBytes ?? 2 ** 32, 2 ** 32);
  const matrix = new Growing((b) => new Float32Array(b), max);
  const labels = new Growing(
    (b) => (labelSpec.type === 'category' ? new Int32Array(b) : new Float32Array(b)),
    max,
  );
  const rows = new Growing((b) => new Int32Array(b), max);
  const imputedRows = new Growing((b) => new Int32Array(b), max);
  let imputedCount = 0;
  let passed = 0;
  const report: IngestReport = {
    rowsRead: 0,
    rowsKept: 0,
    rowsDropped: 0,
    cellsImputed: 0,
    readerProblems: 0,
    columns: Object.fromEntries(specs.map((c) => [c.name, emptyColumn()])),
    errors: [],
    errorCount: 0,
  };
  const fail = (e: DataError): void => {
    report.errorCount++;
    if (report.errors.length < maxErrors) report.errors.push(e);
  };
  const cell = new Float32Array(width);
  // The number and integer features, by input position: the reader may convert their values.
  const numbers: (ColumnSpec | undefined)[] = source.columns.map(() => undefined);
  for (let j = 0; j < width; j++) {
    const spec = features[j] as ColumnSpec;
    if (spec.type === 'number' || spec.type === 'integer') numbers[featurePositions[j] as number] = spec;
  }
  // The categories as written, by input position (the label's too): the reader may index them.
  const categories = source.columns.map((_, position): ReadonlyMap<string, number> | undefined => {
    if (position === labelPosition) return labelPlain;
    const j = featurePositions.indexOf(position);
    return j === -1 ? undefined : featurePlain[j];
  });
  let kept = 0;
  let tick = 0;
  let stoppedEarly = false;
  // The row in progress, and what its values that are not a plain success did (settle()).
  let item: RawRecord = { row: 0, values: [] };
  let drop = false;
  let imputed = 0;
  const settle = (
    c: ColumnSpec,
    converted: Exclude<ReturnType<typeof convertValue>, { ok: true }>,
  ): number => {
    const counts = report.columns[c.name] as ColumnReport;
    if (converted.missing) counts.missing++;
    else counts[REASON_FIELD[converted.reason]]++;
    const policy = converted.missing ? c.missing : c.invalid;
    if (policy === 'drop') {
      drop = true;
      counts.dropped++;
    } else if (policy === 'impute') {
      imputed++;
      counts.imputed++;
    } else {
      const what = converted.missing ? 'the value is missing' : converted.detail;
      fail({
        row: item.row,
        ...(item.line !== undefined ? { line: item.line } : {}),
        column: c.name,
        message: `${source.path}: row ${item.row}${item.line !== undefined ? ` (line ${item.line})` : ''}, column "${c.name}": ${what}.`,
      });
    }
    return Number.NaN;
  };
  const used = source.columns.map(
    (_, position) => position === labelPosition || featurePositions.includes(position),
  );
  for await (const next of source.rows({ numbers, categories, used })) {
    if (report.errorCount >= maxErrors) {
      stoppedEarly = true;
      break;
    }
    if (++tick % 8192 === 0) options.onProgress?.(source.bytesRead() ?? 0, source.totalBytes);
    report.rowsRead++;
    if (isProblem(next)) {
      report.readerProblems++;
      fail({ row: next.row, ...(next.line !== undefined ? { line: next.line } : {}), message: next.message });
      continue;
    }
    item = next;
    drop = false;
    imputed = 0;
    const values = item.values;
    // Values the reader converted are fastNumber's results (or category indices) for these very columns.
    const readerNumbers = item.numbers;
    const at = item.numbersAt ?? 0;
    for (let j = 0; j < width; j++) {
      const spec = features[j] as ColumnSpec;
      const position = featurePositions[j] as number;
      if (readerNumbers !== undefined) {
        const number = readerNumbers[at + position] as number;
        if (!Number.isNaN(number)) {
          cell[j] = number;
          continue;
        }
      }
      const raw = values[position] ?? null;
      const plain = featurePlain[j];
      const fast = plain === undefined ? fastNumber(spec, raw) : (plain.get(raw as string) ?? Number.NaN);
      if (!Number.isNaN(fast)) {
        cell[j] = fast;
        continue;
      }
      const converted = convertValue(spec, raw, featureCats[j]);
      cell[j] = converted.ok ? converted.value : settle(spec, converted);
    }
    const rawLabel = values[labelPosition] ?? null;
    let label = readerNumbers === undefined ? Number.NaN : (readerNumbers[at + labelPosition] as number);
    if (Number.isNaN(label)) label = labelPlain?.get(rawLabel as string) ?? Number.NaN;
    if (Number.isNaN(label)) {
      const labelConverted = convertValue(labelSpec, rawLabel, cats[labelAt]);
      label = labelConverted.ok ? labelConverted.value : settle(labelSpec, labelConverted);
    }
    if (drop || report.errorCount > 0) {
      if (drop) report.rowsDropped++;
      continue;
    }
    matrix.ensure((kept + 1) * width, 'feature matrix');
    labels.ensure(kept + 1, 'labels');
    rows.ensure(kept + 1, 'row index');
    matrix.array.set(cell, kept * width);
    labels.array[kept] = label;
    rows.array[kept] = item.row;
    if (imputed > 0) {
      imputedRows.ensure(imputedCount + 1, 'row index');
      imputedRows.array[imputedCount++] = kept;
    }
    report.cellsImputed += imputed;
    kept++;
    if (options.onRows !== undefined && kept - passed === ROWS_PER_CALL) {
      options.onRows(matrix.array, passed, kept);
      passed = kept;
    }
  }
  options.onProgress?.(source.bytesRead() ?? 0, source.totalBytes);
  report.rowsKept = kept;
  if (report.errorCount > 0) {
    const more = stoppedEarly ? ` (stopped after ${maxErrors}; raise --max-errors to see more)` : '';
    throw new SealtrainError(
      'ERR_DATA_INVALID',
      `${source.path} has ${report.errorCount} error${report.errorCount > 1 ? 's' : ''}${more}: ${report.errors.map((e) => e.message).join(' ')}`,
      { details: { path: source.path, errors: report.errors.map((e) => e.message) } },
    );
  }
  if (kept === 0) {
    throw new SealtrainError(
      'ERR_DATA_INVALID',
      `${source.path} has no usable rows (${report.rowsRead} read, ${report.rowsDropped} dropped).`,
      {
        details: { path: source.path },
      },
    );
  }
  if (options.onRows !== undefined && kept > passed) options.onRows(matrix.array, passed, kept);
  return {
    matrix: { values: matrix.array.subarray(0, kept * width), rows: kept, columns: features },
    labels: labels.array.subarray(0, kept),
    sourceRows: rows.array.subarray(0, kept),
    imputedRows: imputedRows.array.subarray(0, imputedCount),
    report,
  };
}
