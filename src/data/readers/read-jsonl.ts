import { createReadStream } from 'node:fs';
import { fromFsError, isSealtrainError, type SealtrainError } from '../../errors/index.js';
import { isRecord as isObject } from '../../internal/json-shapes.js';
import type { RawRecord, RawValue, RecordProblem, RecordSource } from '../records.js';
import {
  type ByteCounter,
  checkedUtf8,
  checkNotUtf16,
  type InputName,
  positiveLimit,
  readHead,
  sourceError,
} from './source-input.js';

/** The default limit on one JSON line: 16 MiB. */
const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;

/** Options for {@link readJsonl}. */
export interface ReadJsonlOptions {
  /** The most bytes one line may hold; default 16 MiB. */
  readonly maxLineBytes?: number;
}

/** One line of the file, without its line break. */
interface Line {
  readonly text: string;
  readonly line: number;
}

/**
 * Opens a JSON Lines file (one JSON object per line, UTF-8) as a {@link RecordSource}. The
 * columns are the keys of the first object, in the order `Object.keys` gives them (keys that
 * look like array indices come first, in ascending order); a missing key is `null`. Blank lines
 * are skipped; data rows count the other lines from 1. The file is streamed: at open it is read
 * up to the first object, and each call of `rows()` reads it again from the start.
 *
 * A line that is not JSON (`bad-json`), not an object (`not-an-object`), has a key the first
 * object lacks (`unknown-key`) or a nested object or array as a value (`nested-value`) is
 * yielded as a problem. An empty file, UTF-16 text, bytes that are not UTF-8 and a line longer
 * than `maxLineBytes` stop the read with `ERR_DATA_MALFORMED` naming the file and line.
 */
export async function readJsonl(path: string, options: ReadJsonlOptions = {}): Promise<RecordSource> {
  const input: InputName = { path, kind: 'JSONL' };
  const maxLineBytes = positiveLimit('maxLineBytes', options.maxLineBytes, DEFAULT_MAX_LINE_BYTES);
  const { head, size } = await readHead(input);
  if (size === 0) throw sourceError(input, 'it has no data rows (the file is empty)', { reason: 'empty' });
  checkNotUtf16(input, head);
  const columns = await firstKeys(input, maxLineBytes);
  let counter: ByteCounter = { bytes: 0 };
  return {
    format: 'jsonl',
    path,
    columns,
    totalBytes: size,
    bytesRead: () => counter.bytes,
    rows: () => {
      counter = { bytes: 0 };
      return jsonlRows(input, { columns, maxLineBytes, counter });
    },
  };
}

/** The keys of the first line that holds a JSON object. */
async function firstKeys(input: InputName, maxLineBytes: number): Promise<string[]> {
  try {
    for await (const { text } of readLines(input, maxLineBytes, { bytes: 0 })) {
      const value = parseJson(text);
      if (isObject(value)) return Object.keys(value);
    }
  } catch (error) {
    throw jsonlFailure(input, error);
  }
  throw sourceError(input, 'it has no data rows (no line holds a JSON object)', { reason: 'empty' });
}

async function* jsonlRows(
  input: InputName,
  {
    columns,
    maxLineBytes,
    counter,
  }: { columns: readonly string[]; maxLineBytes: number; counter: ByteCounter },
): AsyncGenerator<RawRecord | RecordProblem> {
  const index = new Map(columns.map((name, i) => [name, i]));
  let row = 0;
  try {
    for await (const { text, line } of readLines(input, maxLineBytes, counter)) {
      row++;
      yield toRecord(input, parseJson(text), { row, line, columns, index });
    }
  } catch (error) {
    throw jsonlFailure(input, error);
  }
}

/** A parsed line as a record, or the problem with it. */
function toRecord(
  input: InputName,
  value: unknown,
  at: { row: number; line: number; columns: readonly string[]; index: ReadonlyMap<string, number> },
): RawRecord | RecordProblem {
  const { row, line } = at;
  const problem = (reason: string, what: string): RecordProblem => ({
    row,
    line,
    reason,
    message: `Row ${row} (line ${line}) of ${input.path} ${what}.`,
  });
  if (value === NOT_JSON) return problem('bad-json', 'is not valid JSON');
  if (!isObject(value)) return problem('not-an-object', `is ${describe(value)}, not a JSON object`);
  const values: RawValue[] = new Array<RawValue>(at.columns.length).fill(null);
  for (const [key, v] of Object.entries(value)) {
    const i = at.index.get(key);
    if (i === undefined) {
      return problem(
        'unknown-key',
        `has the key ${JSON.stringify(key)}, which the first object does not have`,
      );
    }
    if (typeof v === 'object' && v !== null) {
      return problem(
        'nested-value',
        `has ${describe(v)} as the value of ${JSON.stringify(key)}; values must be flat`,
      );
    }
    values[i] = v as RawValue;
  }
  return { row, line, values };
}

/** What `JSON.parse` gives for a line that is not JSON. */
const NOT_JSON = Symbol('not JSON');

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return NOT_JSON;
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/**
 * The non-blank lines of the file, checked as UTF-8, with LF or CRLF ends and a leading
 * byte-order mark removed. Throws when a line is longer than `maxLineBytes`.
 */
async function* readLines(
  input: InputName,
  maxLineBytes: number,
  counter: ByteCounter,
): AsyncGenerator<Line> {
  const chunks = checkedUtf8(input, createReadStream(input.path, { highWaterMark: 256 * 1024 }), counter);
  let parts: Buffer[] = [];
  let partBytes = 0;
  let line = 1;
  const tooLong = (): SealtrainError =>
    sourceError(input, `line ${line} is longer than maxLineBytes (${maxLineBytes} bytes)`, {
      reason: 'line-too-long',
      line,
      limit: maxLineBytes,
    });
  for await (const chunk of chunks) {
    let start = 0;
    for (let end = chunk.indexOf(10); end !== -1; end = chunk.indexOf(10, start)) {
      if (partBytes + end - start > maxLineBytes) throw tooLong();
      const bytes =
        partBytes === 0 ? chunk.subarray(start, end) : Buffer.concat([...parts, chunk.subarray(start, end)]);
      const text = lineText(bytes, line);
      if (text.trim() !== '') yield { text, line };
      parts = [];
      partBytes = 0;
      start = end + 1;
      line++;
    }
    if (start < chunk.length) {
      partBytes += chunk.length - start;
      if (partBytes > maxLineBytes) throw tooLong();
      parts.push(chunk.subarray(start));
    }
  }
  const text = lineText(Buffer.concat(parts), line);
  if (text.trim() !== '') yield { text, line };
}

/** A line's text without a trailing CR and, on line 1, a byte-order mark. */
function lineText(bytes: Buffer, line: number): string {
  const end = bytes.length > 0 && bytes[bytes.length - 1] === 13 ? bytes.length - 1 : bytes.length;
  const text = bytes.toString('utf8', 0, end);
  return line === 1 && text.startsWith('\uFEFF') ? text.slice(1) : text;
}

function jsonlFailure(input: InputName, error: unknown): SealtrainError {
  if (isSealtrainError(error)) return error;
  return fromFsError(error, `read ${input.kind} file`, input.path);
}
