/**
 * Parsing a CSV file on a worker thread while the caller converts and validates its rows: the
 * worker runs the same reader (csv-parse, the UTF-8 check, the size limits, the line numbers) and
 * ships the rows in batches: the row, line and field count of each row, and its fields — those
 * the caller asked to have converted (numbers, and categories as their index) in a transferred
 * Float32Array, the others as strings. A ragged row ships only its field count. At most
 * four batches are unacknowledged (csv-serve.ts): the worker waits for the reader, so memory
 * stays bounded whatever the file's size. A reader error is shipped after the rows before it, as
 * the same coded error; a worker that stops is `ERR_INTERNAL` naming the file and the row.
 *
 * When the reader asks for values to be converted, a large file is parsed by two workers, one
 * from each half (csv-split.ts). The second runs ahead, its batches kept (about 4 bytes per value
 * and 12 per row: about what the rows take once prepared) while they hold at most three quarters
 * of its part's bytes, or 256 MiB; they are read after the first part's rows, renumbered. When
 * the first part turns out not to be clean, or the second worker fails or has to wait, the first
 * reads on alone. The worker's side is csv-serve.ts.
 */
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { SealtrainError } from '../../errors/index.js';
import { packageFile } from '../../internal/package-root.js';
import type { RawRecord, RawValue, RecordProblem, RowsOptions } from '../records.js';
import type { CsvWorkerData, Decision, FromWorker } from './csv-serve.js';
import { DEFAULT_SPLIT_BYTES, splitPoint } from './csv-split.js';
import { type CsvSettings, raggedRow } from './read-csv.js';
import type { ByteCounter } from './source-input.js';

/** The least the second part of a split file may keep unread, in bytes (see `budget`). */
const MIN_BUDGET = 256 * 1024 * 1024;

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
 * The data rows of a CSV file, parsed by a worker thread started from `entry` (two for a large
 * file, see the module comment): records and ragged-row problems in file order, as the reader on
 * this thread yields them. Leaving the loop early stops the workers.
 */
export async function* csvRowsInWorker(
  settings: CsvSettings,
  columns: readonly string[],
  counter: ByteCounter,
  entry: string,
  options: RowsOptions = {},
): AsyncGenerator<RawRecord | RecordProblem> {
  const { input } = settings;
  const base: CsvWorkerData = {
    path: input.path,
    delimiter: settings.delimiter,
    maxFieldBytes: settings.maxFieldBytes,
    columns: [...columns],
    ...(options.numbers?.some((spec) => spec !== undefined) ? { numbers: options.numbers } : {}),
    ...(options.categories?.some((c) => c !== undefined) ? { categories: options.categories } : {}),
    ...(options.used !== undefined ? { used: options.used } : {}),
    ...(settings.recordDelimiter !== undefined ? { recordDelimiter: settings.recordDelimiter } : {}),
  };
  // Split only when values are converted: the second part's batches are then compact to keep.
  const converted = base.numbers !== undefined || base.categories !== undefined;
  // Where to split (a file that cannot be looked at here is read by one worker, which reports why).
  const boundary = converted
    ? await stat(input.path)
        .then(async ({ size }) => {
          const splitBytes = settings.splitBytes ?? DEFAULT_SPLIT_BYTES;
          const at = await splitPoint(input.path, size, splitBytes, settings.recordDelimiter);
          return at === undefined ? undefined : { at, size };
        })
        .catch(() => undefined)
    : undefined;
  const first = new ParseThread(
    entry,
    boundary === undefined ? base : { ...base, part: { kind: 'first', boundary: boundary.at } },
  );
  // The second part's unread batches may hold up to three quarters of its bytes (or 256 MiB):
  // about what its rows take once prepared (4 bytes a value) when its values are converted.
  const second =
    boundary === undefined
      ? undefined
      : new ParseThread(entry, {
          ...base,
          part: {
            kind: 'rest',
            start: boundary.at,
            budget:
              settings.splitBudget ??
              Math.max(MIN_BUDGET, Math.floor(((boundary.size - boundary.at) * 3) / 4)),
          },
        });
  const expected = columns.length;
  const { used } = base;
  let thread = first;
  // Added to the second part's rows, lines and bytes once its rows are read.
  let offset = { row: 0, line: 0, bytes: 0 };
  let next: typeof offset | undefined;
  let row = 0;
  try {
    for (;;) {
      const event = await thread.next();
      switch (event.type) {
        case 'batch': {
          counter.bytes = offset.bytes + event.bytes;
          const { texts, meta, numbers } = event;
          let text = 0;
          let number = 0;
          for (let i = 0; i < meta.length; i += 3) {
            row = offset.row + (meta[i] as number);
            const line = offset.line + (meta[i + 1] as number);
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
              if (Number.isNaN(numbers[number + k] as number) && used?.[k] !== false) {
                values[k] = texts[text++] as string;
              }
            }
            yield { row, line, values, numbers, numbersAt: number };
            number += count;
          }
          thread.acknowledge();
          break;
        }
        case 'boundary': {
          // The second part's rows count only after a clean first part, and only if they all
          // parsed; if its worker waits for its batches to be read, the first reads on instead.
          const use = event.clean && (await second?.outcome) === 'end';
          if (use) next = { row: 0, line: event.newlines, bytes: boundary?.at ?? 0 };
          else second?.close();
          first.decide(use ? 'stop' : 'continue');
          settings.onSplit?.(use);
          break;
        }
        case 'end':
          if (thread === first && second !== undefined && next !== undefined) {
            thread = second;
            offset = { ...next, row };
            continue;
          }
          counter.bytes = offset.bytes + event.bytes;
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
    first.close();
    second?.close();
  }
}

/** One parse worker and its messages. */
class ParseThread {
  readonly #worker: Worker;
  readonly #inbox: Inbox;

  constructor(entry: string, workerData: CsvWorkerData) {
    this.#worker = new Worker(entry, { workerData, stdout: false, stderr: false });
    this.#inbox = new Inbox(this.#worker);
  }

  next(): Promise<Event> {
    return this.#inbox.next();
  }

  /** How the worker ended, once it has (`end` when every row parsed), or `waiting`. */
  get outcome(): Promise<Event['type']> {
    return this.#inbox.outcome;
  }

  /** A batch was read: the worker may parse further. */
  acknowledge(): void {
    this.#worker.postMessage(1);
  }

  /** The answer to the first part's `boundary`. */
  decide(decision: Decision): void {
    this.#worker.postMessage(decision);
  }

  close(): void {
    this.#inbox.close();
    void this.#worker.terminate();
  }
}

/** The worker's messages and its stopping, queued until the reader takes them. */
class Inbox {
  readonly #queue: Event[] = [];
  #head = 0;
  #waiting: ((event: Event) => void) | undefined;
  #done = false;
  readonly #worker: Worker;
  #settle: (type: Event['type']) => void = () => {};
  /** The type of the first event that is not a batch: how the worker ended, or that it waits. */
  readonly outcome = new Promise<Event['type']>((resolve) => {
    this.#settle = resolve;
  });

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
    if (event.type === 'waiting') {
      this.#settle(event.type);
      return;
    }
    if (event.type !== 'batch' && event.type !== 'boundary') {
      this.#done = true;
      this.#settle(event.type);
    }
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

  /** Stops listening and drops what was not read; an error the worker raises while it is being stopped is no news either. */
  close(): void {
    this.#settle('stopped');
    this.#done = true;
    this.#queue.length = 0;
    this.#head = 0;
    this.#worker.removeAllListeners();
    this.#worker.on('error', () => {});
  }
}
