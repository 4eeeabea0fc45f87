/**
 * What every tabular reader yields: a header, then rows of raw values in file order. The
 * preparation pipeline (schema, validation, split, transforms) consumes only this, so a new
 * format is one more reader.
 */
import type { ColumnSpec } from './schema.js';

/** One raw value as the file holds it: CSV gives strings (empty string for an empty field). */
export type RawValue = string | number | boolean | null;

/** A data row. `row` counts data rows from 1 (the header is not a row); `line` is the file line where known. */
export interface RawRecord {
  readonly row: number;
  readonly line?: number;
  /** One value per column of {@link RecordSource.columns}, in that order. */
  readonly values: readonly RawValue[];
  /**
   * The values the reader converted as {@link RowsOptions} asked: position `k` of the row is
   * `numbers[numbersAt + k]` when that is not NaN (`fastNumber`'s result for its column, which a
   * reader may round to float32, the precision the prepared rows keep; or a category's index),
   * and `values[k]` is then left empty; NaN means `values[k]` holds the value as read.
   */
  readonly numbers?: Float32Array | Float64Array;
  readonly numbersAt?: number;
}

/** Options for {@link RecordSource.rows}. */
export interface RowsOptions {
  /**
   * By input position, the number and integer columns whose plain decimal values the reader may
   * convert itself (with `fastNumber`, which gives the value ingest would); a value that does not
   * convert stays as read. A reader may ignore this.
   */
  readonly numbers?: readonly (ColumnSpec | undefined)[];
  /**
   * By input position, the category columns (and a category label) whose values the reader may
   * turn into their index with this map (`plainCategories`: the categories as written); a value
   * not in it stays as read. A reader may ignore this.
   */
  readonly categories?: readonly (ReadonlyMap<string, number> | undefined)[];
  /**
   * By input position, whether the caller reads the value at all (ignored columns are not): a
   * reader may leave the others empty. A reader may ignore this.
   */
  readonly used?: readonly boolean[];
}

/**
 * A row the reader could not turn into values (a CSV row with the wrong number of fields, a JSON
 * line that does not parse). The pipeline counts it against `--max-errors` and reports it.
 */
export interface RecordProblem {
  readonly row: number;
  readonly line?: number;
  /** A stable reason: `ragged-row`, `bad-json`, `not-an-object`. */
  readonly reason: string;
  /** One sentence naming the row and what is wrong. */
  readonly message: string;
}

/** A stream of rows from one input file. */
export interface RecordSource {
  /** `csv`, `jsonl`, `parquet` or `idx`. */
  readonly format: string;
  /** The input's path, for messages. */
  readonly path: string;
  /** Column names, in order (CSV header, JSON keys of the first object, Parquet schema, IDX `pixel_0…`, `label`). */
  readonly columns: readonly string[];
  /** The rows, once; every item is a record or a problem. */
  rows(options?: RowsOptions): AsyncIterable<RawRecord | RecordProblem>;
  /** Bytes read so far (for progress); undefined when unknown. */
  bytesRead(): number | undefined;
  /** Total input bytes when known (for progress). */
  readonly totalBytes: number | undefined;
}

/** Whether an item from {@link RecordSource.rows} is a problem rather than a record. */
export function isProblem(item: RawRecord | RecordProblem): item is RecordProblem {
  return 'reason' in item;
}
