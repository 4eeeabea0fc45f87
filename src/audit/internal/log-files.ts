import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromFsError, hasSystemCode } from '../../errors/index.js';
import { sha256Hex } from './digest.js';
import { LIMITS } from './shape.js';

/** The files of one audit folder (see the spec). */
export interface AuditPaths {
  readonly dir: string;
  readonly log: string;
  readonly heads: string;
  readonly key: string;
  readonly pub: string;
  readonly lock: string;
}

/** Paths of the audit files in `dir`. */
export function auditPaths(dir: string): AuditPaths {
  return {
    dir,
    log: join(dir, 'audit.jsonl'),
    heads: join(dir, 'heads.jsonl'),
    key: join(dir, 'signing-key.pem'),
    pub: join(dir, 'signing-key.pub.pem'),
    lock: join(dir, 'audit.lock'),
  };
}

/** The end of a line-oriented file. */
export interface Tail {
  readonly size: number;
  readonly ino: number;
  /** The newest complete line (without its newline), `undefined` when there is none. */
  readonly lastLine: string | undefined;
  /** Bytes after the last newline: a torn write when not empty. */
  readonly torn: Buffer;
  /** True when the last complete line or the torn bytes do not fit the read window. */
  readonly tooLong: boolean;
}

/** Reads at most two lines' worth from the end of `path` (missing file: empty). */
export async function readTail(path: string): Promise<Tail> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (hasSystemCode(error, 'ENOENT'))
      return { size: 0, ino: 0, lastLine: undefined, torn: Buffer.alloc(0), tooLong: false };
    throw fromFsError(error, 'read', path);
  }
  try {
    const { size, ino } = await handle.stat();
    const length = Math.min(size, 2 * LIMITS.lineBytes);
    const bytes = Buffer.alloc(length);
    await handle.read(bytes, 0, length, size - length);
    const whole = length === size;
    const lastNl = bytes.lastIndexOf(0x0a);
    const torn = bytes.subarray(lastNl + 1);
    if (lastNl < 0) return { size, ino, lastLine: undefined, torn, tooLong: !whole };
    const prevNl = lastNl === 0 ? -1 : bytes.lastIndexOf(0x0a, lastNl - 1);
    const lastLine = bytes.subarray(prevNl + 1, lastNl).toString('utf8');
    return { size, ino, lastLine, torn, tooLong: prevNl < 0 && !whole };
  } catch (error) {
    throw fromFsError(error, 'read', path);
  } finally {
    await handle.close();
  }
}

/** Appends `text` with one `O_APPEND` write and fsyncs it. */
export async function appendDurable(path: string, text: string): Promise<void> {
  try {
    const handle = await open(path, 'a', 0o600);
    try {
      const data = Buffer.from(text);
      let off = 0;
      while (off < data.length) off += (await handle.write(data, off, data.length - off, null)).bytesWritten;
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw fromFsError(error, 'append to', path);
  }
}

/** What {@link repairTornLine} did: the `details` of the `audit.recover` entry. */
export interface Repair {
  readonly reason: 'torn-line' | 'missing-newline';
  /** The 1-based line that was cut off or completed. */
  readonly line: number;
  readonly bytes: number;
  readonly sha256: string;
}

/** Number of newline bytes in `path`. */
export async function countLines(path: string): Promise<number> {
  try {
    const bytes = await readFile(path);
    let count = 0;
    for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, i + 1)) count++;
    return count;
  } catch (error) {
    throw fromFsError(error, 'read', path);
  }
}

function isJson(bytes: Buffer): boolean {
  try {
    JSON.parse(bytes.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

/**
 * Repairs a final line without a newline: appends the newline when the bytes parse as JSON,
 * otherwise cuts them off (`ftruncate` + fsync). Call with the lock held.
 */
export async function repairTornLine(path: string, tail: Tail): Promise<Repair> {
  const line = (await countLines(path)) + 1;
  const facts = { line, bytes: tail.torn.length, sha256: sha256Hex(tail.torn) };
  if (isJson(tail.torn)) {
    await appendDurable(path, '\n');
    return { reason: 'missing-newline', ...facts };
  }
  try {
    const handle = await open(path, 'r+');
    try {
      await handle.truncate(tail.size - tail.torn.length);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw fromFsError(error, 'repair', path);
  }
  return { reason: 'torn-line', ...facts };
}

/** The lines of a file's text: split on newlines, without the empty string after the last. */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}
