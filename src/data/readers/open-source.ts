import { isUtf8 } from 'node:buffer';
import { extname } from 'node:path';
import { gunzipSync, constants as zlibConstants } from 'node:zlib';
import { SealtrainError } from '../../errors/index.js';
import { IDX_TYPES } from '../internal/idx-header.js';
import type { RecordSource } from '../records.js';
import { type ReadCsvOptions, readCsv } from './read-csv.js';
import { readIdxRecords } from './read-idx-records.js';
import { type ReadJsonlOptions, readJsonl } from './read-jsonl.js';
import { readParquet } from './read-parquet.js';
import { completeUtf8Length, type InputName, looksLikeUtf16, readHead, sourceError } from './source-input.js';

/** The input formats `sealtrain prepare` reads. */
export type RecordFormat = 'csv' | 'jsonl' | 'parquet' | 'idx';

/** Options for {@link openRecordSource}; each reader takes the ones that concern it. */
export interface OpenRecordSourceOptions extends ReadCsvOptions, ReadJsonlOptions {
  /** The format, instead of telling it from the file's name and first bytes. */
  readonly format?: RecordFormat;
  /** For an IDX images file: the IDX labels file that goes with it (a `label` column). */
  readonly labels?: string;
}

const BY_EXTENSION: Readonly<Record<string, RecordFormat>> = {
  '.csv': 'csv',
  '.tsv': 'csv',
  '.txt': 'csv',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.parquet': 'parquet',
};

/**
 * Opens an input file as a {@link RecordSource}, choosing the reader by the file's extension
 * (`.csv`, `.tsv` (tab-delimited), `.txt` → CSV; `.jsonl`, `.ndjson` → JSON Lines; `.parquet`)
 * or, for any other name, by its first bytes: `PAR1` → Parquet; IDX magic, plain or inside
 * gzip → IDX; text whose first character is `{` → JSON Lines; other UTF-8 text → CSV (tab-
 * delimited when its first line has tabs and no commas). `options.format` skips the guess.
 *
 * @throws SealtrainError `ERR_DATA_MALFORMED` when the format cannot be told or the reader
 *   refuses the file; `ERR_USAGE_INVALID` for `labels` with an input that is not IDX;
 *   `ERR_IO_NOT_FOUND` when the file is missing.
 */
export async function openRecordSource(
  path: string,
  options: OpenRecordSourceOptions = {},
): Promise<RecordSource> {
  const { format, delimiter } =
    options.format === undefined ? await detect(path) : { format: options.format };
  if (options.labels !== undefined && format !== 'idx') {
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `A labels file goes with an IDX images file, but ${path} is read as ${format.toUpperCase()}.`,
      { details: { field: 'labels', path } },
    );
  }
  switch (format) {
    case 'csv':
      return readCsv(
        path,
        withDefined({ delimiter: options.delimiter ?? delimiter, maxFieldBytes: options.maxFieldBytes }),
      );
    case 'jsonl':
      return readJsonl(path, withDefined({ maxLineBytes: options.maxLineBytes }));
    case 'parquet':
      return readParquet(path);
    case 'idx':
      return readIdxRecords(path, withDefined({ labels: options.labels }));
  }
}

/** The format a file is read as, and for CSV the delimiter its name or first line suggests. */
async function detect(path: string): Promise<{ format: RecordFormat; delimiter?: string }> {
  const extension = extname(path).toLowerCase();
  const byName = BY_EXTENSION[extension];
  if (byName !== undefined)
    return extension === '.tsv' ? { format: byName, delimiter: '\t' } : { format: byName };
  const input: InputName = { path, kind: 'input' };
  const { head } = await readHead(input);
  if (head.length === 0)
    throw sourceError(input, 'it has no data rows (the file is empty)', { reason: 'empty' });
  return sniff(input, head);
}

/** Tells the format from a file's first bytes. */
function sniff(input: InputName, head: Buffer): { format: RecordFormat; delimiter?: string } {
  if (head.subarray(0, 4).toString('latin1') === 'PAR1') return { format: 'parquet' };
  if (isIdxHeader(head)) return { format: 'idx' };
  if (head[0] === 0x1f && head[1] === 0x8b) {
    if (isIdxHeader(gunzipStart(head))) return { format: 'idx' };
    throw sourceError(input, 'it is gzip-compressed; decompress it first (e.g. gunzip -k)', {
      reason: 'compressed',
    });
  }
  // UTF-16 text goes to the CSV reader, whose message says how to convert it.
  if (looksLikeUtf16(head)) return { format: 'csv' };
  if (!isUtf8(head.subarray(0, completeUtf8Length(head)))) {
    throw sourceError(
      input,
      'its format cannot be told from its name or its first bytes (it is not UTF-8 text, Parquet or IDX); ' +
        'name it .csv, .tsv, .jsonl or .parquet, or choose the format',
      { reason: 'unknown-format' },
    );
  }
  const text = head.toString('utf8').replace(/^\uFEFF/, '');
  if (text.trimStart().startsWith('{')) return { format: 'jsonl' };
  const firstLine = text.split('\n', 1)[0] ?? '';
  return firstLine.includes('\t') && !firstLine.includes(',')
    ? { format: 'csv', delimiter: '\t' }
    : { format: 'csv' };
}

/** Whether bytes start like an IDX file: `00 00`, a known type byte, at least one dimension. */
function isIdxHeader(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 8 &&
    bytes[0] === 0 &&
    bytes[1] === 0 &&
    IDX_TYPES.has(bytes[2] ?? -1) &&
    (bytes[3] ?? 0) > 0
  );
}

/**
 * What the first bytes of a gzip stream decompress to (empty when they do not). Deflate grows
 * at most about 1032-fold, so 256 bytes stay well under the output limit.
 */
function gunzipStart(head: Buffer): Buffer {
  try {
    return gunzipSync(head.subarray(0, 256), {
      finishFlush: zlibConstants.Z_SYNC_FLUSH,
      maxOutputLength: 1 << 20,
    });
  } catch {
    return Buffer.alloc(0);
  }
}

/** `options` without its undefined properties (for `exactOptionalPropertyTypes`). */
function withDefined<T extends object>(options: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}
