/**
 * Splitting a CSV file between two parse threads. The second thread parses from the first line
 * end after the middle of the file; its rows count only when the first part is *clean*: no quote
 * character, and line ends only as the record delimiter the header ended with (every `\n`
 * preceded by `\r` for CRLF, no `\r` at all for LF). Then every line end before the boundary
 * ends a record, the boundary starts one, and the line after it is the number of `\n` before it
 * plus one: the second part's rows, lines and values are those one thread would give. Otherwise
 * the first thread reads on past the boundary and the second one's work is dropped.
 */
import { open } from 'node:fs/promises';
import { countNewlines } from './source-input.js';

/** Files below this are read by one thread: a second one would not pay for its start. */
export const DEFAULT_SPLIT_BYTES = 32 * 1024 * 1024;

/** How far past the middle the boundary is looked for (the line end that starts the second part). */
const SEARCH_BYTES = 1024 * 1024;

const QUOTE = 0x22;
const CR = 0x0d;
const LF = 0x0a;

/**
 * The offset where a file of `size` bytes is split: just after the first `\n` at or after its
 * middle, within {@link SEARCH_BYTES}; undefined for a file below `minBytes`, a record delimiter
 * other than LF or CRLF, or no line end there.
 */
export async function splitPoint(
  path: string,
  size: number,
  minBytes: number,
  recordDelimiter: string | undefined,
): Promise<number | undefined> {
  if (size < minBytes || size < 2 || (recordDelimiter !== '\n' && recordDelimiter !== '\r\n'))
    return undefined;
  const middle = Math.floor(size / 2);
  const handle = await open(path, 'r');
  try {
    const window = Buffer.alloc(Math.min(SEARCH_BYTES, size - middle));
    const { bytesRead } = await handle.read(window, 0, window.length, middle);
    const at = window.subarray(0, bytesRead).indexOf(LF);
    const boundary = at === -1 ? undefined : middle + at + 1;
    return boundary !== undefined && boundary < size ? boundary : undefined;
  } finally {
    await handle.close();
  }
}

/** What the first part was found to be at the boundary. */
export interface FirstPart {
  /** Whether the second part's rows can be used (see the module comment). */
  readonly clean: boolean;
  /** `\n` bytes before the boundary: the second part's first line is this plus one. */
  readonly newlines: number;
}

/**
 * Passes the (UTF-8 checked) chunks of a file read from its start through, up to `boundary`,
 * looking at the bytes before it; there it asks `decide` whether to read on. If so, the rest
 * passes through unexamined; if not, the stream ends at the boundary.
 */
export async function* untilBoundary(
  chunks: AsyncIterable<Buffer>,
  boundary: number,
  crlf: boolean,
  decide: (part: FirstPart) => Promise<boolean>,
): AsyncGenerator<Buffer> {
  let position = 0;
  let clean = true;
  // Newlines before the chunk in hand, and whether the bytes before it ended with `\r`.
  let newlines = 0;
  let pendingCr = false;
  let decided = false;
  for await (const chunk of chunks) {
    if (decided) {
      yield chunk;
      continue;
    }
    const cut = Math.min(chunk.length, boundary - position);
    const head = chunk.subarray(0, cut);
    if (clean) {
      const check = scan(head, crlf, pendingCr);
      clean = check.clean;
      pendingCr = check.endsWithCr;
    }
    position += cut;
    newlines += countNewlines(head);
    if (position < boundary) {
      yield chunk;
      continue;
    }
    if (head.length > 0) yield head;
    decided = true;
    if (!(await decide({ clean: clean && !pendingCr, newlines }))) return;
    if (cut < chunk.length) yield chunk.subarray(cut);
  }
}

/**
 * Whether `bytes` has no quote and only the line ends of the record delimiter (`\r\n` pairs with
 * `crlf`, bare `\n` without), given whether the bytes before ended with `\r`.
 */
function scan(bytes: Buffer, crlf: boolean, pendingCr: boolean): { clean: boolean; endsWithCr: boolean } {
  if (bytes.indexOf(QUOTE) !== -1) return { clean: false, endsWithCr: false };
  if (bytes.length === 0) return { clean: true, endsWithCr: pendingCr };
  if (!crlf) return { clean: bytes.indexOf(CR) === -1, endsWithCr: false };
  // Every `\n` must follow a `\r`, and every `\r` precede a `\n` (the last may await the next chunk).
  if (bytes[0] === LF) {
    if (!pendingCr) return { clean: false, endsWithCr: false };
  } else if (pendingCr) return { clean: false, endsWithCr: false };
  let crs = pendingCr && bytes[0] === LF ? 1 : 0;
  for (let at = bytes.indexOf(CR); at !== -1; at = bytes.indexOf(CR, at + 1)) {
    if (at === bytes.length - 1) return { clean: countNewlines(bytes) === crs, endsWithCr: true };
    if (bytes[at + 1] !== LF) return { clean: false, endsWithCr: false };
    crs++;
  }
  return { clean: countNewlines(bytes) === crs, endsWithCr: false };
}
