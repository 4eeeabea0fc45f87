/**
 * The parse worker's side of csv-thread.ts: runs the reader over the file (or one part of it,
 * csv-split.ts) and posts its rows in batches, converting the values the reader asked for.
 */
import { finished } from 'node:stream/promises';
import type { MessagePort } from 'node:worker_threads';
import type { ErrorCode, ErrorDetails } from '../../errors/index.js';
import { fastNumber } from '../internal/convert.js';
import type { ColumnSpec } from '../schema.js';
import type { FirstPart } from './csv-split.js';
import { type CsvSettings, type DataPart, type Pause, startDataPass } from './read-csv.js';
import type { ByteCounter } from './source-input.js';

/** Rows per batch, values per batch, and the most characters of fields: a batch is shipped at any. */
const BATCH_ROWS = 4096;
const BATCH_VALUES = 1 << 17;
const BATCH_CHARS = 1 << 20;
/**
 * The second part of a split file, whose batches wait to be read, ships them in buffers of this
 * size (values and row data in one), so that each goes back to the system once read (memory
 * blocks above 32 MiB are mapped and unmapped on their own), with up to this many characters of
 * fields it did not convert.
 */
const LARGE_BATCH_BYTES = 48 * 1024 * 1024;
const LARGE_BATCH_CHARS = 1 << 24;
/** Batches the worker may ship ahead of the reader. */
const MAX_IN_FLIGHT = 4;

/** What the worker is started with. */
export interface CsvWorkerData {
  readonly path: string;
  readonly delimiter: string;
  readonly maxFieldBytes: number;
  readonly columns: readonly string[];
  /** By input position, the columns whose plain decimals the worker converts (RowsOptions). */
  readonly numbers?: readonly (ColumnSpec | undefined)[];
  /** By input position, the categories the worker turns into their index (RowsOptions). */
  readonly categories?: readonly (ReadonlyMap<string, number> | undefined)[];
  /** By input position, whether the reader reads the value: the others are not shipped (RowsOptions). */
  readonly used?: readonly boolean[];
  /** The header's line end, for the second part of a split file. */
  readonly recordDelimiter?: string;
  /**
   * The part of the file to parse (csv-split.ts); the whole file when absent. The second part
   * waits only while its unread batches hold more than `budget` bytes.
   */
  readonly part?:
    | { readonly kind: 'first'; readonly boundary: number }
    | { readonly kind: 'rest'; readonly start: number; readonly budget: number };
}

/**
 * A batch of rows: `meta` holds row, line and field count for each (the count negated for a
 * ragged row, whose fields are not shipped). For the others, `numbers` holds each field's value
 * when the worker converted it (NaN when not, or when no field was to be converted), and `texts`
 * the fields it did not convert, in order.
 */
export interface BatchMessage {
  readonly type: 'batch';
  readonly texts: readonly string[];
  readonly numbers?: Float32Array;
  readonly meta: Int32Array;
  /** Bytes of the file (or part) read so far. */
  readonly bytes: number;
}

/** What the worker says back to the first part's boundary question. */
export type Decision = 'stop' | 'continue';

export type FromWorker =
  | BatchMessage
  | { readonly type: 'end'; readonly bytes: number }
  | ({ readonly type: 'boundary' } & FirstPart)
  /** The second part stopped to wait, its unread batches over their budget. */
  | { readonly type: 'waiting' }
  | {
      readonly type: 'error';
      readonly code: ErrorCode;
      readonly message: string;
      readonly details: ErrorDetails;
    };

/**
 * Collects rows into batches: row, line and field count of each; the converted values (NaN where
 * a value was not converted) and, in order, the fields that were not.
 */
class BatchWriter {
  readonly #expected: number;
  readonly #numbers: readonly (ColumnSpec | undefined)[] | undefined;
  readonly #categories: readonly (ReadonlyMap<string, number> | undefined)[] | undefined;
  readonly #used: readonly boolean[] | undefined;
  readonly #large: boolean;
  readonly #rows: number;
  #texts: string[] = [];
  #chars = 0;
  #meta: Int32Array;
  #at = 0;
  #values: Float32Array | undefined;
  #good = 0;

  /**
   * `large`: batches of about {@link LARGE_BATCH_BYTES} (at most a quarter of the second part's
   * budget), counting only the characters shipped.
   */
  constructor(expected: number, data: CsvWorkerData, large = false) {
    this.#expected = expected;
    this.#numbers = data.numbers;
    this.#categories = data.categories;
    this.#used = data.used;
    this.#large = large;
    const converted = data.numbers !== undefined || data.categories !== undefined;
    const bytes = Math.min(
      LARGE_BATCH_BYTES,
      data.part?.kind === 'rest' ? data.part.budget / 4 : LARGE_BATCH_BYTES,
    );
    this.#rows = large
      ? Math.max(1, Math.floor(bytes / ((converted ? 4 * expected : 0) + 12)))
      : Math.max(1, Math.min(BATCH_ROWS, Math.floor(BATCH_VALUES / expected)));
    [this.#values, this.#meta] = this.#arrays();
  }

  /** The values (when any are converted) and the row data of a new batch, in one buffer. */
  #arrays(): [Float32Array | undefined, Int32Array] {
    const values =
      this.#numbers === undefined && this.#categories === undefined ? 0 : this.#rows * this.#expected;
    const buffer = new ArrayBuffer(4 * values + 12 * this.#rows);
    return [
      values === 0 ? undefined : new Float32Array(buffer, 0, values),
      new Int32Array(buffer, 4 * values),
    ];
  }

  get rows(): number {
    return this.#at / 3;
  }

  get full(): boolean {
    return this.#at >= this.#meta.length || this.#chars >= (this.#large ? LARGE_BATCH_CHARS : BATCH_CHARS);
  }

  /**
   * Adds a row; a ragged one (not `expected` fields) as its field count only. The values at
   * positions with a column in `numbers` that `fastNumber` converts go as numbers (as float32,
   * the precision the prepared rows keep), those found in the position's `categories` as their
   * index.
   */
  add(row: number, line: number, record: readonly string[]): void {
    const meta = this.#meta;
    const at = this.#at;
    meta[at] = row;
    meta[at + 1] = line;
    this.#at = at + 3;
    const count = record.length;
    if (count !== this.#expected) {
      meta[at + 2] = -count;
      return;
    }
    meta[at + 2] = count;
    const numbers = this.#numbers;
    const categories = this.#categories;
    const used = this.#used;
    const values = this.#values;
    const base = this.#good++ * count;
    let chars = 0;
    const large = this.#large;
    for (let i = 0; i < count; i++) {
      const text = record[i] as string;
      if (!large) chars += text.length;
      const spec = numbers?.[i];
      let value = Number.NaN;
      if (spec !== undefined) value = fastNumber(spec, text);
      else {
        const index = categories?.[i]?.get(text);
        if (index !== undefined) value = index;
      }
      if (values !== undefined) values[base + i] = value;
      // A value not read is not shipped (only with values, whose NaN marks the texts' places).
      if (Number.isNaN(value) && (values === undefined || used?.[i] !== false)) {
        this.#texts.push(text);
        if (large) chars += text.length;
      }
    }
    this.#chars += chars;
  }

  take(bytes: number): BatchMessage {
    const values = this.#values;
    const batch: BatchMessage = {
      type: 'batch',
      texts: this.#texts,
      ...(values !== undefined ? { numbers: values.subarray(0, this.#good * this.#expected) } : {}),
      meta: this.#meta.subarray(0, this.#at),
      bytes,
    };
    this.#texts = [];
    this.#chars = 0;
    [this.#values, this.#meta] = this.#arrays();
    this.#at = 0;
    this.#good = 0;
    return batch;
  }
}

/** About the memory a batch takes on the reader's side: its arrays, and each text as a string. */
function volumeOf(message: BatchMessage): number {
  let bytes = message.meta.byteLength + (message.numbers?.byteLength ?? 0);
  for (const text of message.texts) bytes += 24 + text.length;
  return bytes;
}

/**
 * The worker's side: parses the file (or the part) `data` names and posts its rows to `port` in
 * batches, then `end`, or the reader's error after the rows before it. Each `1` from the port
 * acknowledges a batch; the parser waits while {@link MAX_IN_FLIGHT} are unacknowledged (the
 * second part of a split file does not wait). The first part posts `boundary` there and waits
 * for `stop` or `continue`.
 */
export async function serveCsvRows(port: MessagePort, data: CsvWorkerData): Promise<void> {
  const settings: CsvSettings = {
    input: { path: data.path, kind: 'CSV' },
    delimiter: data.delimiter,
    maxFieldBytes: data.maxFieldBytes,
    ...(data.recordDelimiter !== undefined ? { recordDelimiter: data.recordDelimiter } : {}),
  };
  const counter: ByteCounter = { bytes: 0 };
  const batch = new BatchWriter(data.columns.length, data, data.part?.kind === 'rest');
  // Unacknowledged batches: how many, and (for the second part) their bytes, oldest first.
  const budget = data.part?.kind === 'rest' ? data.part.budget : undefined;
  const volumes: number[] = [];
  let unread = 0;
  let resume: (() => void) | undefined;
  let decided: ((go: boolean) => void) | undefined;
  const full = (): boolean => (budget === undefined ? volumes.length >= MAX_IN_FLIGHT : unread > budget);
  port.on('message', (message: 1 | Decision) => {
    if (message === 'stop' || message === 'continue') {
      decided?.(message === 'continue');
      decided = undefined;
      return;
    }
    unread -= volumes.shift() ?? 0;
    if (resume !== undefined && !full()) {
      const go = resume;
      resume = undefined;
      go();
    }
  });
  const send = (): void => {
    if (batch.rows === 0) return;
    const message = batch.take(counter.bytes);
    // The values and the row data share one buffer.
    port.postMessage(message, [message.meta.buffer as ArrayBuffer]);
    const volume = volumeOf(message);
    volumes.push(volume);
    unread += volume;
  };
  const pause: Pause = () => {
    if (!full()) return undefined;
    if (budget !== undefined) port.postMessage({ type: 'waiting' } satisfies FromWorker);
    return new Promise<void>((go) => {
      resume = go;
    });
  };
  const take = (row: number, line: number, record: readonly string[]): void => {
    batch.add(row, line, record);
    if (batch.full) send();
  };
  let part: DataPart | undefined;
  if (data.part?.kind === 'rest') part = data.part;
  else if (data.part?.kind === 'first') {
    part = {
      kind: 'first',
      boundary: data.part.boundary,
      decide: (found) =>
        new Promise<boolean>((go) => {
          decided = go;
          port.postMessage({ type: 'boundary', ...found } satisfies FromWorker);
        }),
    };
  }
  const { parser, failure } = startDataPass(settings, data.columns, counter, take, pause, part);
  let last: FromWorker;
  try {
    parser.resume();
    await finished(parser);
    send();
    last = { type: 'end', bytes: counter.bytes };
  } catch (error) {
    send();
    const { code, message, details } = failure(error);
    last = { type: 'error', code, message, details };
  }
  port.postMessage(last);
}
