import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream';
import { CsvError, type Info, type Options, Parser } from 'csv-parse';
import { fromFsError, isSealtrainError, SealtrainError } from '../../errors/index.js';
import type { RawRecord, RecordProblem, RecordSource } from '../records.js';
import { type FirstPart, untilBoundary } from './csv-split.js';
import { csvRowsInWorker, csvWorkerEntry } from './csv-thread.js';
import {
  type ByteCounter,
  checkedUtf8,
  checkNotUtf16,
  type InputName,
  positiveLimit,
  readHead,
  sourceError,
} from './source-input.js';

/** The default limit on one CSV field: 1 MiB. */
const DEFAULT_MAX_FIELD_BYTES = 1024 * 1024;

/** Options for {@link readCsv}. */
export interface ReadCsvOptions {
  /** The field separator; default `,`. */
  readonly delimiter?: string;
  /** The most bytes one field may hold; default 1 MiB. A row may hold (columns + 1) × this. */
  readonly maxFieldBytes?: number;
}

/** Characters that, found in a one-column header, suggest the file uses another delimiter. */
const OTHER_DELIMITERS = [';', '\t', '|', ','];

/**
 * Opens a CSV file as a {@link RecordSource}: RFC 4180 (quoted fields may hold delimiters,
 * doubled quotes and line breaks), LF or CRLF line ends, a UTF-8 byte-order mark skipped, blank
 * lines skipped. The first row is the header; values stay strings (an empty field is `''`).
 * The file is streamed, never held whole: at open only the header is read, and each call of
 * `rows()` reads the file again from the start, parsing it on a worker thread (csv-thread.ts)
 * while the caller works on the rows already parsed (on two, each from one half, for a file of
 * 32 MiB or more: csv-split.ts); on this thread when the worker's script is not built. All give
 * the same rows and the same errors.
 *
 * A row with the wrong number of fields is yielded as a `ragged-row` problem. Everything else
 * that is wrong stops the read with `ERR_DATA_MALFORMED` naming the file and, where it applies,
 * the row, line and column: an empty file, a header with an empty or repeated name or that looks
 * split on the wrong delimiter, UTF-16 text, bytes that are not UTF-8, a field larger than
 * `maxFieldBytes`, a quote left open.
 */
export async function readCsv(path: string, options: ReadCsvOptions = {}): Promise<RecordSource> {
  const { settings, columns, size } = await openCsv(path, options);
  let counter: ByteCounter = { bytes: 0 };
  return {
    format: 'csv',
    path,
    columns,
    totalBytes: size,
    bytesRead: () => counter.bytes,
    rows: (rowsOptions) => {
      counter = { bytes: 0 };
      const entry = csvWorkerEntry();
      return entry === undefined
        ? csvRows(settings, columns, counter)
        : csvRowsInWorker(settings, columns, counter, entry, rowsOptions);
    },
  };
}

/**
 * The checks {@link readCsv} makes before any row (options, the file's size and encoding, the
 * header), and what a pass over the rows then needs: the settings and the column names.
 */
export async function openCsv(
  path: string,
  options: ReadCsvOptions = {},
): Promise<{ settings: CsvSettings; columns: string[]; size: number }> {
  const input: InputName = { path, kind: 'CSV' };
  const maxFieldBytes = positiveLimit('maxFieldBytes', options.maxFieldBytes, DEFAULT_MAX_FIELD_BYTES);
  const delimiter = checkDelimiter(options.delimiter ?? ',');
  const { head, size } = await readHead(input);
  if (size === 0) throw sourceError(input, 'it has no data rows (the file is empty)', { reason: 'empty' });
  checkNotUtf16(input, head);
  const header = await readHeader({ input, delimiter, maxFieldBytes });
  const settings: CsvSettings = {
    input,
    delimiter,
    maxFieldBytes,
    ...(header.recordDelimiter !== undefined ? { recordDelimiter: header.recordDelimiter } : {}),
  };
  return { settings, columns: header.names, size };
}

export interface CsvSettings {
  readonly input: InputName;
  readonly delimiter: string;
  readonly maxFieldBytes: number;
  /** The line end the header ended with (csv-parse finds it there): `\n`, `\r\n` or `\r`. */
  readonly recordDelimiter?: string;
  /** The smallest file that two threads parse, a half each (default: csv-split.ts). */
  readonly splitBytes?: number;
  /** The most bytes the second part's unread batches may hold before it waits (default: csv-thread.ts). */
  readonly splitBudget?: number;
  /** Told at the boundary of a split file whether the second part's rows are used. */
  readonly onSplit?: (used: boolean) => void;
}

function checkDelimiter(delimiter: string): string {
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\r' || delimiter === '\n') {
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `The CSV delimiter must be one character other than a quote or a line break, not ${JSON.stringify(delimiter)}.`,
      { details: { field: 'delimiter' } },
    );
  }
  return delimiter;
}

/**
 * Reads the first record and checks it as a header; returns the column names, and the record
 * delimiter csv-parse found at its end (none when the file is that one line).
 */
async function readHeader(settings: CsvSettings): Promise<{ names: string[]; recordDelimiter?: string }> {
  const { input } = settings;
  const pass = {
    counter: { bytes: 0 },
    lines: new LineTracker(),
    maxRecordBytes: 16 * settings.maxFieldBytes,
  };
  const parser = startParser(settings, pass, (record, line) => {
    checkFieldSizes(settings, pass, record, { row: 0, line });
    return { names: record, line };
  });
  let header: { names: string[]; line: number } | undefined;
  try {
    for await (const first of parser) {
      header = first as { names: string[]; line: number };
      break;
    }
  } catch (error) {
    throw csvFailure(input, error, pass);
  }
  if (header === undefined) {
    throw sourceError(input, 'it has no data rows (not even a header)', { reason: 'empty' });
  }
  checkHeader(settings, header.names, header.line);
  const found = (parser as unknown as { options: { record_delimiter: Buffer[] } }).options.record_delimiter;
  const recordDelimiter = found.length === 1 ? found[0]?.toString('utf8') : undefined;
  return { names: header.names, ...(recordDelimiter !== undefined ? { recordDelimiter } : {}) };
}

/** Throws unless every name is present and distinct and the header is not a mis-split line. */
function checkHeader({ input, delimiter }: CsvSettings, header: readonly string[], line: number): void {
  const [only] = header;
  if (header.length === 1 && only !== undefined) {
    const found = OTHER_DELIMITERS.find((d) => d !== delimiter && only.includes(d));
    if (found !== undefined) {
      const shown = found === '\t' ? "'\\t'" : `'${found}'`;
      throw sourceError(
        input,
        `its header ${JSON.stringify(only)} is a single column that contains ${shown}; if that separates ` +
          `the columns, pass --delimiter ${shown}`,
        { reason: 'wrong-delimiter', line, suggestedDelimiter: found },
      );
    }
  }
  const empty = header.flatMap((name, i) => (name.trim() === '' ? [String(i + 1)] : []));
  if (empty.length > 0) {
    const problem = `the header has an empty name for column ${empty.join(', ')} (counting from 1)`;
    throw sourceError(input, problem, { reason: 'empty-column-name', line, columns: empty });
  }
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const name of header) (seen.has(name) ? repeated : seen).add(name);
  if (repeated.size > 0) {
    const names = [...repeated];
    throw sourceError(
      input,
      `the header repeats the column name ${names.map((n) => JSON.stringify(n)).join(', ')}`,
      {
        reason: 'duplicate-column-name',
        line,
        columns: names,
      },
    );
  }
}

/**
 * The data rows: records and ragged-row problems, in file order, parsed on this thread (when the
 * worker's script is not built; tests compare the two).
 */
export async function* csvRows(
  settings: CsvSettings,
  columns: readonly string[],
  counter: ByteCounter,
): AsyncGenerator<RawRecord | RecordProblem> {
  const { parser, failure } = startDataPass(settings, columns, counter);
  try {
    for await (const item of parser) yield item as RawRecord | RecordProblem;
  } catch (error) {
    throw failure(error);
  }
}

/**
 * Which part of the file a pass reads: from the start, asking at `boundary` whether to read on
 * (`decide`, csv-split.ts); or the second part, from `start` to the end, whose rows and lines
 * count from 1 there (the caller adds the first part's).
 */
export type DataPart =
  | {
      readonly kind: 'first';
      readonly boundary: number;
      readonly decide: (part: FirstPart) => Promise<boolean>;
    }
  | { readonly kind: 'rest'; readonly start: number };

/**
 * Starts one pass over the data rows. Each record, or ragged-row problem, is pushed by the parser
 * or, with `take`, each record is handed to it as it is (the parser then yields nothing). `failure` turns what the
 * pass throws into the error to report.
 */
export function startDataPass(
  settings: CsvSettings,
  columns: readonly string[],
  counter: ByteCounter,
  take?: (row: number, line: number, record: readonly string[]) => void,
  pause?: Pause,
  part?: DataPart,
): { parser: Parser; failure: (error: unknown) => SealtrainError } {
  const { input } = settings;
  const expected = columns.length;
  const pass = { counter, lines: new LineTracker(), maxRecordBytes: (expected + 1) * settings.maxFieldBytes };
  // The second part has no header: its first record is row 1.
  const headers = part?.kind === 'rest' ? 0 : 1;
  const parser = startParser(
    settings,
    pass,
    (record, line, index) => {
      if (index === headers) return undefined;
      const row = index - headers;
      checkFieldSizes(settings, pass, record, { row, line, columns });
      if (take !== undefined) {
        take(row, line, record);
        return undefined;
      }
      return record.length === expected
        ? ({ row, line, values: record } satisfies RawRecord)
        : raggedRow(input, row, line, record.length, expected);
    },
    pause,
    part,
  );
  return { parser, failure: (error) => csvFailure(input, error, pass) };
}

/** The problem for a row of `fields` fields where the header has `expected`. */
export function raggedRow(
  input: InputName,
  row: number,
  line: number,
  fields: number,
  expected: number,
): RecordProblem {
  return {
    row,
    line,
    reason: 'ragged-row',
    message: `Row ${row} (line ${line}) of ${input.path} has ${fields} field${fields === 1 ? '' : 's'}; the header has ${expected}.`,
  };
}

/** Makes each record; returns undefined to drop it. `index` counts records from 1, the header too. */
type OnRecord = (record: string[], line: number, index: number) => unknown;

/** What one pass over the file counts and limits. */
interface PassState {
  readonly counter: ByteCounter;
  readonly lines: LineTracker;
  /**
   * The most bytes one record may hold: it keeps a quote left open from reading the rest of the
   * file into memory. Checked once per chunk read (csv-parse's own per-byte `max_record_size`
   * cost about 15 % of the read) and on each record as it is made.
   */
  readonly maxRecordBytes: number;
}

/**
 * Streams the file (or `part` of it) through the UTF-8 check into a parser whose records are
 * made by `onRecord` with the line each record starts on. The second part is parsed with the
 * header's record delimiter (csv-parse would otherwise find its own) and no byte-order mark.
 */
function startParser(
  settings: CsvSettings,
  pass: PassState,
  onRecord: OnRecord,
  pause?: Pause,
  part?: DataPart,
): Parser {
  const rest = part?.kind === 'rest';
  const options: Options = {
    delimiter: settings.delimiter,
    bom: !rest,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    ...(rest && settings.recordDelimiter !== undefined ? { record_delimiter: settings.recordDelimiter } : {}),
  };
  const parser = new LinedParser(options, settings, pass, onRecord, pause);
  const { input } = settings;
  const source = createReadStream(input.path, {
    highWaterMark: 256 * 1024,
    ...(part?.kind === 'rest' ? { start: part.start } : {}),
  });
  const checked = (chunks: AsyncIterable<Buffer>) => checkedUtf8(input, chunks, pass.counter);
  const crlf = settings.recordDelimiter === '\r\n';
  // Errors reach the reader through the parser, which pipeline destroys with them.
  if (part?.kind === 'first') {
    const { boundary, decide } = part;
    pipeline(
      source,
      checked,
      (c: AsyncIterable<Buffer>) => untilBoundary(c, boundary, crlf, decide),
      parser,
      () => {},
    );
  } else pipeline(source, checked, parser, () => {});
  return parser;
}

/**
 * Called after each chunk is parsed; a promise it returns holds the next chunk back until it
 * settles (the worker's batches in flight, see csv-worker.ts).
 */
export type Pause = () => Promise<void> | undefined;

/** The parts of csv-parse's parser state that the per-chunk size check reads. */
interface ParserState {
  readonly record: readonly string[];
  readonly field: { readonly length: number };
  readonly previousBuf: { readonly length: number } | undefined;
}

/**
 * A csv-parse parser that hands each record to `onRecord` with the line it starts on. It reads
 * the parser's `info` as each record is pushed (csv-parse pushes while it parses, so `info`
 * then describes that record) instead of using `on_record`, whose per-record copy of `info`
 * made reading a numeric CSV about a third slower. After each chunk it checks the bytes of the
 * record still in progress against `maxRecordBytes`, so a quote left open stops the read within
 * one chunk of the limit.
 */
class LinedParser extends Parser {
  readonly #settings: CsvSettings;
  readonly #pass: PassState;
  readonly #onRecord: OnRecord;
  readonly #pause: Pause | undefined;

  constructor(options: Options, settings: CsvSettings, pass: PassState, onRecord: OnRecord, pause?: Pause) {
    super(options);
    this.#settings = settings;
    this.#pass = pass;
    this.#onRecord = onRecord;
    this.#pause = pause;
  }

  override push(chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk === null) return super.push(chunk, encoding);
    if (this.destroyed) return false;
    try {
      const record = chunk as string[];
      const item = this.#onRecord(record, this.#pass.lines.start(record, this.info), this.info.records);
      return item === undefined ? true : super.push(item);
    } catch (error) {
      this.destroy(error instanceof Error ? error : new Error(String(error)));
      return false;
    }
  }

  override _transform(
    chunk: Buffer,
    encoding: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    super._transform(chunk, encoding, (error?: Error | null) => {
      if (error) return callback(error);
      const state = (this as unknown as { state: ParserState }).state;
      let pending = state.field.length + (state.previousBuf?.length ?? 0);
      for (const field of state.record) pending += field.length;
      if (pending > this.#pass.maxRecordBytes) {
        const row = this.info.records;
        return callback(rowTooLarge(this.#settings, this.#pass, row, state.record.length + 1));
      }
      const wait = this.#pause?.();
      if (wait === undefined) return callback();
      wait.then(
        () => callback(),
        (reason: unknown) => callback(reason instanceof Error ? reason : new Error(String(reason))),
      );
    });
  }
}

/**
 * Finds the line each record starts on from csv-parse's running count, which is the line a
 * record ends on and counts a CRLF inside a quoted field as two lines.
 */
class LineTracker {
  #end = 0;
  #reported = 0;
  #empty = 0;

  /** The line after the last record seen: where a record cut short by an error starts. */
  get next(): number {
    return this.#end + 1;
  }

  start(record: readonly string[], info: Info): number {
    const skipped = info.empty_lines - this.#empty;
    const start = this.#end + skipped + 1;
    let span = info.lines - this.#reported - skipped;
    if (span > 1) for (const field of record) span -= countCrlf(field);
    this.#end = start + Math.max(span, 1) - 1;
    this.#reported = info.lines;
    this.#empty = info.empty_lines;
    return start;
  }
}

function countCrlf(text: string): number {
  let count = 0;
  for (let at = text.indexOf('\r\n'); at !== -1; at = text.indexOf('\r\n', at + 2)) count++;
  return count;
}

/**
 * Throws when the record holds more than `maxRecordBytes` (a record made whole within one chunk,
 * which the per-chunk check does not see) or a field more than `maxFieldBytes` bytes of UTF-8.
 */
function checkFieldSizes(
  settings: CsvSettings,
  pass: PassState,
  record: readonly string[],
  at: { row: number; line: number; columns?: readonly string[] },
): void {
  const { input, maxFieldBytes } = settings;
  // A UTF-16 code unit takes 1 to 3 bytes of UTF-8: most records are let through on their length.
  const quick = Math.floor(maxFieldBytes / 3);
  let total = 0;
  let long = -1;
  for (let i = 0; i < record.length; i++) {
    const length = (record[i] as string).length;
    total += length;
    if (length > quick && long === -1) long = i;
  }
  if (long === -1 && total <= pass.maxRecordBytes) return;
  if (total > pass.maxRecordBytes) {
    let column = 0;
    for (let sum = 0; column < record.length && sum <= pass.maxRecordBytes; column++) {
      sum += (record[column] as string).length;
    }
    throw rowTooLarge(settings, pass, at.row, column, at.line);
  }
  for (let i = long; i < record.length; i++) {
    const field = record[i] as string;
    if (field.length <= quick) continue;
    const bytes = Buffer.byteLength(field);
    if (bytes <= maxFieldBytes) continue;
    const column = at.columns?.[i] ?? `${i + 1}`;
    const where = at.row === 0 ? `the header (line ${at.line})` : `row ${at.row} (line ${at.line})`;
    throw sourceError(
      input,
      `the field in column ${JSON.stringify(column)} of ${where} has ${bytes} bytes, more than maxFieldBytes ` +
        `(${maxFieldBytes}); check for a quote left open, or raise the limit`,
      { reason: 'field-too-large', row: at.row, line: at.line, column, limit: maxFieldBytes },
    );
  }
}

/**
 * The error for a record larger than `maxRecordBytes`: `row` (0 for the header) from `line`
 * (by default the line after the last record), by `column` (counting from 1).
 */
function rowTooLarge(
  { input }: CsvSettings,
  { lines, maxRecordBytes }: PassState,
  row: number,
  column: number,
  line = lines.next,
): SealtrainError {
  const where = `${row === 0 ? 'the header' : `row ${row}`} (from line ${line})`;
  return sourceError(
    input,
    `${where} is larger than its limit of ${maxRecordBytes} bytes ((columns + 1) × maxFieldBytes) by ` +
      `column ${column}; check for a quote left open, or raise maxFieldBytes`,
    { reason: 'row-too-large', row, line, column },
  );
}

/**
 * Turns what a read threw into a {@link SealtrainError} naming the file and the row in progress
 * (csv-parse's `records` counts the header too, so it is that row's number) and its first line.
 */
function csvFailure(input: InputName, error: unknown, { lines }: PassState): SealtrainError {
  if (isSealtrainError(error)) return error;
  if (!(error instanceof CsvError)) return fromFsError(error, `read ${input.kind} file`, input.path);
  const row = typeof error.records === 'number' ? error.records : 0;
  const where = `${row === 0 ? 'the header' : `row ${row}`} (from line ${lines.next})`;
  const at = { row, line: lines.next };
  return sourceError(
    input,
    `${where}: ${error.message.replace(/\.$/, '')}`,
    { reason: error.code, ...at },
    error,
  );
}
