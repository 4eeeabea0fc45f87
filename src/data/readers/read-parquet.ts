import type { FileHandle } from 'node:fs/promises';
import {
  type AsyncBuffer,
  type FileMetaData,
  type ParquetParsers,
  parquetMetadataAsync,
  parquetRead,
  parquetSchema,
} from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { fromFsError, hasSystemCode, isSealtrainError, type SealtrainError } from '../../errors/index.js';
import { openRegular } from '../../store/index.js';
import type { RawRecord, RawValue, RecordSource } from '../records.js';
import { type ByteCounter, type InputName, readHead, sourceError } from './source-input.js';

/** A strict UTF-8 decoder: a string column with bytes that are not UTF-8 is an error, not U+FFFD. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decoders for the value types hyparquet leaves to its caller; strings are checked. */
const PARSERS: Partial<ParquetParsers> = {
  stringFromBytes: (bytes: Uint8Array | undefined) => bytes && utf8.decode(bytes),
};

/**
 * Opens a Parquet file as a {@link RecordSource}, with the pure-JavaScript hyparquet reader and
 * its decompressors (Snappy, gzip, Brotli, zstd, LZ4). Only the footer is read at open; `rows()`
 * reads one row group at a time through a file handle, so memory holds one row group.
 *
 * Columns come from the schema and must be flat (no groups, lists or maps). Values: numbers,
 * strings, booleans and `null`; a 64-bit integer becomes a number when it is safe, a date or
 * timestamp its ISO 8601 string.
 *
 * @throws SealtrainError `ERR_DATA_MALFORMED` naming the file (and the row group, row or column)
 *   when it is not a Parquet file, has a nested column, holds a value with no flat form (an
 *   integer beyond 2^53, binary data, bytes that are not UTF-8 in a string column), or a
 *   column chunk that does not decode.
 */
export async function readParquet(path: string): Promise<RecordSource> {
  const input: InputName = { path, kind: 'Parquet' };
  const { size } = await readHead(input);
  const metadata = await withFile(input, size, { bytes: 0 }, (file) => parquetMetadataAsync(file));
  const columns = flatColumns(input, metadata);
  let counter: ByteCounter = { bytes: 0 };
  return {
    format: 'parquet',
    path,
    columns,
    totalBytes: size,
    bytesRead: () => Math.min(counter.bytes, size),
    rows: () => {
      counter = { bytes: 0 };
      return parquetRows(input, { size, metadata, columns, counter });
    },
  };
}

/** The top-level column names; throws on a nested one. */
function flatColumns(input: InputName, metadata: FileMetaData): string[] {
  return parquetSchema(metadata).children.map(({ element, children }) => {
    const kind = element.logical_type?.type ?? element.converted_type;
    if (children.length > 0 || element.repetition_type === 'REPEATED' || kind === 'LIST' || kind === 'MAP') {
      throw sourceError(
        input,
        `column ${JSON.stringify(element.name)} is nested (${kind ?? (children.length > 0 ? 'a group' : 'repeated')}); ` +
          'only flat columns can be read, so flatten it first',
        { reason: 'nested-column', column: element.name },
      );
    }
    return element.name;
  });
}

async function* parquetRows(
  input: InputName,
  state: { size: number; metadata: FileMetaData; columns: readonly string[]; counter: ByteCounter },
): AsyncGenerator<RawRecord> {
  const { metadata, columns, counter } = state;
  const { handle } = await openRegular(input.path, 'read Parquet file');
  try {
    const file = fileBuffer(input, handle, state.size, counter);
    let rowStart = 0;
    for (const [group, rowGroup] of metadata.row_groups.entries()) {
      const rowEnd = rowStart + Number(rowGroup.num_rows);
      const rows = await readGroup(input, { file, metadata, rowStart, rowEnd, group });
      for (const [i, raw] of rows.entries()) {
        const row = rowStart + i + 1;
        yield {
          row,
          values: raw.map((value, c) => flatValue(input, value, { row, column: columns[c] ?? `${c}` })),
        };
      }
      rowStart = rowEnd;
    }
  } finally {
    await handle.close();
  }
}

/** The rows of one row group, as arrays of hyparquet's values. */
async function readGroup(
  input: InputName,
  at: { file: AsyncBuffer; metadata: FileMetaData; rowStart: number; rowEnd: number; group: number },
): Promise<unknown[][]> {
  let rows: unknown[][] = [];
  try {
    await parquetRead({
      file: at.file,
      metadata: at.metadata,
      rowStart: at.rowStart,
      rowEnd: at.rowEnd,
      rowFormat: 'array',
      compressors,
      parsers: PARSERS,
      onComplete: (result) => {
        rows = result;
      },
    });
  } catch (error) {
    throw parquetFailure(input, error, `row group ${at.group + 1} (rows ${at.rowStart + 1}–${at.rowEnd})`);
  }
  return rows;
}

/** A value as a {@link RawValue}; throws on one that has no flat form. */
function flatValue(input: InputName, value: unknown, at: { row: number; column: string }): RawValue {
  switch (typeof value) {
    case 'string':
    case 'number':
    case 'boolean':
      return value;
    case 'undefined':
      return null;
    case 'bigint':
      if (value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER))
        return Number(value);
      throw badValue(
        input,
        at,
        `the integer ${value} is too large to hold exactly as a number (beyond ±2^53)`,
      );
  }
  if (value === null) return null;
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw badValue(input, at, 'the date is out of range');
    return value.toISOString();
  }
  if (value instanceof Uint8Array)
    throw badValue(input, at, 'the value is binary data, not a number or string');
  throw badValue(input, at, `the value is ${Array.isArray(value) ? 'an array' : 'an object'}, not flat`);
}

function badValue(input: InputName, at: { row: number; column: string }, problem: string): SealtrainError {
  return sourceError(input, `row ${at.row}, column ${JSON.stringify(at.column)}: ${problem}`, {
    reason: 'bad-value',
    row: at.row,
    column: at.column,
  });
}

/** Runs `use` with the file open as an {@link AsyncBuffer}, closing it after. */
async function withFile<T>(
  input: InputName,
  size: number,
  counter: ByteCounter,
  use: (file: AsyncBuffer) => Promise<T>,
): Promise<T> {
  const { handle } = await openRegular(input.path, 'read Parquet file');
  try {
    return await use(fileBuffer(input, handle, size, counter));
  } catch (error) {
    throw parquetFailure(input, error, 'the footer');
  } finally {
    await handle.close();
  }
}

/** hyparquet's view of the file: byte ranges read on demand through one handle. */
function fileBuffer(input: InputName, handle: FileHandle, size: number, counter: ByteCounter): AsyncBuffer {
  return {
    byteLength: size,
    async slice(start: number, end = size): Promise<ArrayBuffer> {
      if (!(start >= 0 && start <= end && end <= size)) {
        throw sourceError(
          input,
          `it asks for bytes ${start}–${end} of a ${size}-byte file (is it truncated?)`,
          {
            reason: 'truncated',
          },
        );
      }
      const bytes = new Uint8Array(end - start);
      let done = 0;
      while (done < bytes.length) {
        const { bytesRead } = await handle.read(bytes, done, bytes.length - done, start + done);
        if (bytesRead === 0)
          throw sourceError(input, 'it was cut short while it was read', { reason: 'truncated' });
        done += bytesRead;
      }
      counter.bytes += done;
      return bytes.buffer;
    },
  };
}

/** Turns what hyparquet threw into a {@link SealtrainError} naming the file and `where`. */
function parquetFailure(input: InputName, error: unknown, where: string): SealtrainError {
  if (isSealtrainError(error)) return error;
  // A system error (it has a syscall) is the file's, not the format's.
  if (error instanceof Error && 'syscall' in error)
    return fromFsError(error, 'read Parquet file', input.path);
  if (hasSystemCode(error, 'ERR_ENCODING_INVALID_ENCODED_DATA')) {
    return sourceError(
      input,
      `${where} has a string that is not valid UTF-8`,
      { reason: 'invalid-utf-8' },
      error,
    );
  }
  const reason = error instanceof Error ? error.message : String(error);
  return sourceError(input, `${where} does not decode: ${reason}`, { reason: 'bad-parquet' }, error);
}
