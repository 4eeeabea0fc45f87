import { isUtf8 } from 'node:buffer';
import { type ErrorDetails, fromFsError, SealtrainError } from '../../errors/index.js';
import { openRegular } from '../../store/index.js';

/** How many bytes at the start of a file are read to tell its format and encoding. */
const HEAD_BYTES = 4096;

/** Counts the bytes a source has read, for {@link RecordSource.bytesRead}. */
export interface ByteCounter {
  bytes: number;
}

/** Where an input is and what kind of file it is meant to be (`CSV`, `JSONL`, …), for messages. */
export interface InputName {
  readonly path: string;
  readonly kind: string;
}

/**
 * A {@link SealtrainError} `ERR_DATA_MALFORMED`: "Cannot read CSV file x.csv: problem." with the
 * path and `details` (row, line, column, reason) in `details`.
 */
export function sourceError(
  input: InputName,
  problem: string,
  details: ErrorDetails = {},
  cause?: unknown,
): SealtrainError {
  return new SealtrainError(
    'ERR_DATA_MALFORMED',
    `Cannot read ${input.kind} file ${input.path}: ${problem}.`,
    {
      details: { path: input.path, ...details },
      ...(cause === undefined ? {} : { cause }),
    },
  );
}

/** Throws `ERR_USAGE_INVALID` unless `value` is a positive safe integer; returns it. */
export function positiveLimit(name: string, value: number | undefined, fallback: number): number {
  const limit = value ?? fallback;
  if (!Number.isSafeInteger(limit) || limit <= 0) {
    throw new SealtrainError('ERR_USAGE_INVALID', `${name} must be a positive whole number, not ${limit}.`, {
      details: { field: name },
    });
  }
  return limit;
}

/**
 * Reads the first {@link HEAD_BYTES} bytes of a file and its size. File-system failures become
 * `ERR_IO_NOT_FOUND` or `ERR_IO_FAILED` naming the file; a directory is `ERR_IO_FAILED` too.
 */
export async function readHead(input: InputName): Promise<{ head: Buffer; size: number }> {
  const action = `read ${input.kind} file`;
  const { handle, size } = await openRegular(input.path, action);
  try {
    const head = Buffer.alloc(Math.min(size, HEAD_BYTES));
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    return { head: head.subarray(0, bytesRead), size };
  } catch (error) {
    throw fromFsError(error, action, input.path);
  } finally {
    await handle.close();
  }
}

/** Whether the first bytes of a file look like UTF-16: a byte-order mark, or many NUL bytes. */
export function looksLikeUtf16(head: Uint8Array): boolean {
  if (
    head.length >= 2 &&
    ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff))
  ) {
    return true;
  }
  let nuls = 0;
  for (const byte of head) if (byte === 0) nuls++;
  // ASCII text in UTF-16 is half NUL bytes; a few stray NULs in UTF-8 text are not UTF-16.
  return head.length >= 2 && nuls * 4 >= head.length;
}

/** Throws `ERR_DATA_MALFORMED` when a text file's first bytes look like UTF-16. */
export function checkNotUtf16(input: InputName, head: Uint8Array): void {
  if (!looksLikeUtf16(head)) return;
  throw sourceError(input, 'it is UTF-16; convert it to UTF-8 (e.g. iconv -f UTF-16 -t UTF-8 in > out)', {
    reason: 'utf-16',
  });
}

/**
 * The length of the prefix of `bytes` that ends on a character boundary: a UTF-8 sequence cut
 * off at the end is left out (it is completed by the next chunk, or is an error at the end).
 */
export function completeUtf8Length(bytes: Uint8Array): number {
  const n = bytes.length;
  for (let back = 1; back <= Math.min(3, n); back++) {
    const byte = bytes[n - back] ?? 0;
    if (byte < 0x80) return n;
    if (byte >= 0xc0) {
      const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
      return need > back ? n - back : n;
    }
  }
  return n;
}

/**
 * The offset of the first byte that is not part of a well-formed UTF-8 sequence (no overlong
 * forms, surrogates or code points past U+10FFFF), or -1 when all of `bytes` is well formed.
 */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] ?? 0;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return i;
    }
    i += need + 1;
  }
  return -1;
}

/** How many `\n` bytes `bytes` holds between `start` and `end`. */
export function countNewlines(bytes: Buffer, start = 0, end = bytes.length): number {
  let count = 0;
  let at = bytes.indexOf(10, start);
  while (at !== -1 && at < end) {
    count++;
    at = bytes.indexOf(10, at + 1);
  }
  return count;
}

/**
 * Passes a file's chunks through, checking that they are well-formed UTF-8 as they stream (a
 * character split between chunks is held back until it is complete) and counting the bytes in
 * `counter`. Throws `ERR_DATA_MALFORMED` naming the line and byte offset of the first bad byte.
 */
export async function* checkedUtf8(
  input: InputName,
  chunks: AsyncIterable<Buffer>,
  counter: ByteCounter,
): AsyncGenerator<Buffer> {
  let carry: Buffer | undefined;
  let lines = 1;
  let offset = 0;
  for await (const chunk of chunks) {
    counter.bytes += chunk.length;
    const data = carry === undefined ? chunk : Buffer.concat([carry, chunk]);
    const cut = completeUtf8Length(data);
    const whole = data.subarray(0, cut);
    if (!isUtf8(whole)) throw invalidUtf8(input, whole, { lines, offset });
    lines += countNewlines(whole);
    offset += cut;
    carry = cut < data.length ? Buffer.from(data.subarray(cut)) : undefined;
    if (whole.length > 0) yield whole;
  }
  if (carry !== undefined) throw invalidUtf8(input, carry, { lines, offset });
}

/** The error for the first bad byte in `bytes`, which start at `at.offset` on line `at.lines`. */
function invalidUtf8(input: InputName, bytes: Buffer, at: { lines: number; offset: number }): SealtrainError {
  const bad = firstInvalidUtf8(bytes);
  const index = bad === -1 ? bytes.length : bad;
  const line = at.lines + countNewlines(bytes, 0, index);
  const offset = at.offset + index;
  return sourceError(
    input,
    `line ${line} is not valid UTF-8 (byte offset ${offset}); convert the file to UTF-8 (e.g. iconv -f LATIN1 -t UTF-8 in > out)`,
    { reason: 'invalid-utf-8', line, offset },
  );
}
