// readWholeFile: a run's plaintext inputs, read in 16 MiB pieces side by side. The bytes are the
// file's, whatever its size; a missing file and one that shrinks while it is read are named.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readFileInto, readWholeFile } from '../../src/store/index.js';
import type { BrokenReads } from '../helpers/broken-reads.js';
import { rejectsWith } from '../helpers/rejects.js';

// One test makes every read past the first 16 MiB find the end of the file, as when another
// process truncates it meanwhile.
const cut = vi.hoisted((): BrokenReads => ({ at: -1, how: 'short' }));
vi.mock('node:fs/promises', async (original) =>
  (await import('../helpers/broken-reads.js')).withBrokenReads(await original(), cut),
);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealtrain-read-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readWholeFile', () => {
  it('returns the bytes of files smaller than, equal to and larger than one piece', async () => {
    for (const size of [0, 1, 16 * 1024 * 1024, 40 * 1024 * 1024 + 12_345]) {
      const bytes = randomBytes(size);
      const path = join(dir, `f${size}`);
      await writeFile(path, bytes);
      const read = await readWholeFile(path);
      expect(read.length).toBe(size);
      expect(read.equals(bytes)).toBe(true);
    }
  });

  it('reads a pipe to its end', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const bytes = randomBytes(100_000);
    const [read] = await Promise.all([readWholeFile(fifo), writeFile(fifo, bytes)]);
    expect(read.equals(bytes)).toBe(true);
  });

  it('names a missing file, and a file that became shorter while it was read', async () => {
    const missing = await rejectsWith(readWholeFile(join(dir, 'absent')), 'ERR_IO_NOT_FOUND');
    expect(missing.message).toContain(join(dir, 'absent'));
    const path = join(dir, 'shrinking');
    await writeFile(path, randomBytes(40 * 1024 * 1024));
    cut.at = 16 * 1024 * 1024;
    try {
      const error = await rejectsWith(readWholeFile(path), 'ERR_IO_CHANGED');
      expect(error.message).toContain(path);
    } finally {
      cut.at = -1;
    }
  });
});

/** Writes `bytes` to a file named `name` in the test folder, and runs `use` on it opened for reading. */
async function withFile(
  name: string,
  bytes: Uint8Array,
  use: (handle: FileHandle, path: string) => Promise<void>,
): Promise<void> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  const handle = await open(path, 'r');
  try {
    await use(handle, path);
  } finally {
    await handle.close();
  }
}

describe('readFileInto', () => {
  it('fills a buffer from a position in pieces of the size asked, telling of each piece and each longer prefix', async () => {
    const bytes = randomBytes(5 * 1024 * 1024 + 1777);
    await withFile('pieces', bytes, async (handle, path) => {
      const target = Buffer.alloc(bytes.length - 1000);
      const pieces: number[] = [];
      const prefixes: number[] = [];
      await readFileInto(handle, target, path, {
        position: 1000,
        pieceBytes: 1024 * 1024,
        pieceDone: (i) => pieces.push(i),
        advance: (end) => prefixes.push(end),
      });
      expect(target.equals(bytes.subarray(1000))).toBe(true);
      expect([...pieces].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(prefixes).toEqual([...prefixes].sort((a, b) => a - b));
      expect(prefixes.at(-1)).toBe(target.length);
    });
  });

  it('keeps two reads in flight, not one per piece: the thread pool stays free for small file operations', async () => {
    const bytes = randomBytes(6 * 1024 * 1024);
    await withFile('in-flight', bytes, async (handle, path) => {
      let now = 0;
      let most = 0;
      const counting = {
        read: async (...a: Parameters<typeof handle.read>) => {
          most = Math.max(most, ++now);
          try {
            return await handle.read(...a);
          } finally {
            now--;
          }
        },
      } as unknown as typeof handle;
      const target = Buffer.alloc(bytes.length);
      await readFileInto(counting, target, path, { pieceBytes: 1024 * 1024 });
      expect(target.equals(bytes)).toBe(true);
      expect(most).toBe(2);
    });
  });

  it('stopped mid-read, waits for the reads in flight and starts no other', async () => {
    await withFile('stop-mid-read', randomBytes(8 * 1024 * 1024), async (handle, path) => {
      let started = 0;
      let release = (): void => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const slow = {
        read: async (...a: Parameters<typeof handle.read>) => {
          started++;
          await held;
          return handle.read(...a);
        },
      } as unknown as typeof handle;
      const stop = new AbortController();
      let settled = false;
      const reading = readFileInto(slow, Buffer.alloc(8 * 1024 * 1024), path, {
        pieceBytes: 1024 * 1024,
        signal: stop.signal,
      }).finally(() => {
        settled = true;
      });
      await new Promise((resolve) => setImmediate(resolve));
      expect(started).toBe(2);
      stop.abort();
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(settled).toBe(false); // the two reads in flight still write into the buffer
      release();
      await reading;
      expect(started).toBe(2);
    });
  });

  it('refuses a piece size or position that is not a whole number of bytes', async () => {
    await withFile('sizes', randomBytes(10), async (handle, path) => {
      for (const bad of [{ pieceBytes: 0 }, { pieceBytes: 1.5 }, { pieceBytes: -1 }, { position: -1 }])
        await expect(readFileInto(handle, Buffer.alloc(10), path, bad)).rejects.toBeInstanceOf(RangeError);
    });
  });

  it('starts no read once aborted, and reports a short file with the error asked for', async () => {
    await withFile('abort', randomBytes(8 * 1024 * 1024), async (handle, path) => {
      const stop = new AbortController();
      stop.abort();
      const target = Buffer.alloc(8 * 1024 * 1024);
      const pieces: number[] = [];
      await readFileInto(handle, target, path, { signal: stop.signal, pieceDone: (i) => pieces.push(i) });
      expect(pieces).toEqual([]);
      expect(target.every((b) => b === 0)).toBe(true);
      const longer = Buffer.alloc(8 * 1024 * 1024 + 1);
      const ended = new Error('cut');
      await expect(readFileInto(handle, longer, path, { ended: () => ended })).rejects.toBe(ended);
      await expect(readFileInto(handle, longer, path)).rejects.toMatchObject({ code: 'ERR_IO_CHANGED' });
    });
  });
});
