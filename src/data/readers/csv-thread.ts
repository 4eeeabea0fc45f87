/**
 * Parsing a CSV file on a worker thread while the caller converts and validates its rows: the
 * worker runs the same reader (csv-parse, the UTF-8 check, the size limits, the line numbers) and
 * ships the rows in batches: the row, line and field count of each row, and its fields — those
 * the caller asked to have converted as numbers in a transferred Float64Array, the others as
 * strings. A ragged row ships only its field count. At most
 * {@link MAX_IN_FLIGHT} batches are unacknowledged: the worker waits for the reader, so memory
 * stays bounded whatever the file's size. A reader error is shipped after the rows before it, as
 * the same coded error; a worker that stops is `ERR_INTERNAL` naming the file and the row.
 */
import { existsSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { type MessagePort, Worker } from 'node:worker_threads';
import { type ErrorCode, type ErrorDetails, SealtrainError } from '../../errors/index.js';
import { packageFile } from '../../internal/package-root.js';
import { fastNumber } from '../internal/convert.js';
import type { RawRecord, RawValue, RecordProblem, RowsOptions } from '../records.js';
import type { ColumnSpec } from '../schema.js';
import { type CsvSettings, type Pause, raggedRow, startDataPass } from './read-csv.js';
import type { ByteCounter } from './source-input.js';

/** Rows per batch, values per batch, and the most characters of fields: a batch is shipped at any. */
const BATCH_ROWS = 4096;
const BATCH_VALUES = 1 << 17;
const BATCH_CHARS = 1 << 20;
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
}

/**
 * A batch of rows: `meta` holds row, line and field count for each (the count negated for a
 * ragged row, whose fields are not shipped). For the others, `numbers` holds each field's value
 * when the worker converted it (NaN when not, or when no field was to be converted), and `texts`
 * the fields it did not convert, in order.
 */
interface BatchMessage {
  readonly type: 'batch';
  readonly texts: readonly string[];
  readonly numbers?: Float64Array;
  readonly meta: Int32Array;
  /** Bytes of the file read so far. */
  readonly bytes: number;
}

type FromWorker =
  | BatchMessage
  | { readonly type: 'end'; readonly bytes: number }
  | {
      readonly type: 'error';
      readonly code: ErrorCode;
      readonly message: string;
      readonly details: ErrorDetails;
    };

/** What the reader's side meets: a worker message, or the worker stopping. */
type Event = FromWorker | { readonly type: 'stopped'; readonly why: string; readonly cause?: unknown };

let entryPath: string | null | undefined;

/**
 * The worker's script, `dist/data/readers/csv-worker.js` of this package; undefined when it is
 * not there (the TypeScript sources before a build), and the caller parses on its own thread.
 */
export function csvWorkerEntry(): string | undefined {
  if (entryPath === undefined) {
    const path = packageFile(import.meta.url, 'dist/data/readers/csv-worker.js');
    entryPath = existsSync(path) ? path : null;
  }
  return entryPath ?? undefined;
}

/**
 * The data rows of a CSV file, parsed by a worker thread started from `entry`: records and
 * ragged-row problems in file order, as the reader on this thread yields them. Leaving the loop
 * early stops the worker.
 */
export async function* csvRowsInWorker(
  settings: CsvSettings,
  columns: readonly string[],
  counter: ByteCounter,
  entry: string,
  options: RowsOptions = {},
): AsyncGenerator<RawRecord | RecordProblem> {
  const { input } = settings;
  const convert = options.numbers?.some((spec) => spec !== undefined) === true;
  const workerData: CsvWorkerData = {
    path: input.path,
    delimiter: settings.delimiter,
    maxFieldBytes: settings.maxFieldBytes,
    columns: [...columns],
    ...(convert ? { numbers: options.numbers } : {}),
  };
  const worker = new Worker(entry, { workerData, stdout: false, stderr: false });
  const inbox = new Inbox(worker);
  const expected = columns.length;
  let row = 0;
  try {
    for (;;) {
      const event = await inbox.next();
      switch (event.type) {
        case 'batch': {
          counter.bytes = event.bytes;
          const { texts, numbers, meta } = event;
          let text = 0;
          let number = 0;
          for (let i = 0; i < meta.length; i += 3) {
            row = meta[i] as number;
            const line = meta[i + 1] as number;
            const count = meta[i + 2] as number;
            if (count < 0) {
              yield raggedRow(input, row, line, -count, expected);
              continue;
            }
            if (numbers === undefined) {
              const values = texts.slice(text, text + count);
              text += count;
              yield { row, line, values };
              continue;
            }
            const values = new Array<RawValue>(count);
            for (let k = 0; k < count; k++) {
              if (Number.isNaN(numbers[number + k] as number)) values[k] = texts[text++] as string;
            }
            yield { row, line, values, numbers, numbersAt: number };
            number += count;
          }
          worker.postMessage(1);
          break;
        }
        case 'end':
          counter.bytes = event.bytes;
          return;
        case 'error':
          throw new SealtrainError(event.code, event.message, { details: event.details });
        case 'stopped':
          throw new SealtrainError(
            'ERR_INTERNAL',
            `Cannot read CSV file ${input.path}: the thread parsing it stopped (${event.why}) after row ${row}.`,
            {
              details: { path: input.path, row: row + 1, reason: 'parser-stopped' },
              ...(event.cause === undefined ? {} : { cause: event.cause }),
            },
          );
      }
    }
  } finally {
    inbox.close();
    void worker.terminate();
  }
}

/** The worker's messages and its stopping, queued until the reader takes them. */
class Inbox {
  readonly #queue: Event[] = [];
  #head = 0;
  #waiting: ((event: Event) => void) | undefined;
  #done = false;
  readonly #worker: Worker;

  constructor(worker: Worker) {
    this.#worker = worker;
    worker.on('message', (message: FromWorker) => this.#put(message));
    worker.on('messageerror', (cause: Error) =>
      this.#put({ type: 'stopped', why: 'a batch could not be read', cause }),
    );
    worker.on('error', (cause: Error) => this.#put({ type: 'stopped', why: cause.message, cause }));
    worker.on('exit', (code: number) => this.#put({ type: 'stopped', why: `exit code ${code}` }));
  }

  #put(event: Event): void {
    // After the end or an error, the worker's stopping is no news.
    if (this.#done) return;
    if (event.type !== 'batch') this.#done = true;
    const waiting = this.#waiting;
    if (waiting !== undefined) {
      this.#waiting = undefined;
      waiting(event);
    } else this.#queue.push(event);
  }

  next(): Promise<Event> {
    if (this.#head < this.#queue.length) {
      const event = this.#queue[this.#head] as Event;
      this.#queue[this.#head++] = undefined as unknown as Event;
      if (this.#head === this.#queue.length) {
        this.#queue.length = 0;
        this.#head = 0;
      }
      return Promise.resolve(event);
    }
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  /** Stops listening; an error the worker raises while it is being stopped is no news either. */
  close(): void {
    this.#done = true;
    this.#worker.removeAllListeners();
    this.#worker.on('error', () => {});
  }
}

/**
 * Collects rows into batches: row, line and field count of each; the converted numbers (NaN
 * where a value was not converted) and, in order, the fields that were not.
 */
class BatchWriter {
  readonly #expected: number;
  readonly #numbers: readonly (ColumnSpec | undefined)[] | undefined;
  readonly #rows: number;
  #texts: string[] = [];
  #chars = 0;
  #meta: Int32Array;
  #at = 0;
  #values: Float64Array | undefined;
  #good = 0;

  constructor(expected: number, numbers: readonly (ColumnSpec | undefined)[] | undefined) {
    this.#expected = expected;
    this.#numbers = numbers;
    this.#rows = Math.max(1, Math.min(BATCH_ROWS, Math.floor(BATCH_VALUES / expected)));
    this.#meta = new Int32Array(this.#rows * 3);
    this.#values = this.#newValues();
  }

  #newValues(): Float64Array | undefined {
    return this.#numbers === undefined ? undefined : new Float64Array(this.#rows * this.#expected);
  }

  get rows(): number {
    return this.#at / 3;
  }

  get full(): boolean {
    return this.#at >= this.#meta.length || this.#chars >= BATCH_CHARS;
  }

  /**
   * Adds a row; a ragged one (not `expected` fields) as its field count only. The values at
   * positions with a column in `numbers` that `fastNumber` converts go as numbers.
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
    const values = this.#values;
    const base = this.#good++ * count;
    for (let i = 0; i < count; i++) {
      const text = record[i] as string;
      this.#chars += text.length;
      const spec = numbers?.[i];
      const value = spec === undefined ? Number.NaN : fastNumber(spec, text);
      if (values !== undefined) values[base + i] = value;
      if (Number.isNaN(value)) this.#texts.push(text);
    }
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
    this.#meta = new Int32Array(this.#rows * 3);
    this.#at = 0;
    this.#values = this.#newValues();
    this.#good = 0;
    return batch;
  }
}

/**
 * The worker's side: parses the file `data` names and posts its rows to `port` in batches, then
 * `end`, or the reader's error after the rows before it. Each `1` from the port acknowledges a
 * batch; the parser waits while {@link MAX_IN_FLIGHT} are unacknowledged.
 */
export async function serveCsvRows(port: MessagePort, data: CsvWorkerData): Promise<void> {
  const settings: CsvSettings = {
    input: { path: data.path, kind: 'CSV' },
    delimiter: data.delimiter,
    maxFieldBytes: data.maxFieldBytes,
  };
  const counter: ByteCounter = { bytes: 0 };
  const batch = new BatchWriter(data.columns.length, data.numbers);
  let inFlight = 0;
  let resume: (() => void) | undefined;
  port.on('message', () => {
    inFlight--;
    if (resume !== undefined && inFlight < MAX_IN_FLIGHT) {
      const go = resume;
      resume = undefined;
      go();
    }
  });
  const send = (): void => {
    if (batch.rows === 0) return;
    const message = batch.take(counter.bytes);
    const transfer = [message.meta.buffer as ArrayBuffer];
    if (message.numbers !== undefined) transfer.push(message.numbers.buffer as ArrayBuffer);
    port.postMessage(message, transfer);
    inFlight++;
  };
  const pause: Pause = () =>
    inFlight < MAX_IN_FLIGHT
      ? undefined
      : new Promise<void>((go) => {
          resume = go;
        });
  const take = (row: number, line: number, record: readonly string[]): void => {
    batch.add(row, line, record);
    if (batch.full) send();
  };
  const { parser, failure } = startDataPass(settings, data.columns, counter, take, pause);
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
