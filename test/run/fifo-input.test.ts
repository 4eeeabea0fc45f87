// An input that is not a regular file is refused at once, by name: a named pipe with no writer
// used to hang a run (opening it waits for a writer), and the bytes peeked from one with a writer
// would have been gone before the read. The same holds for the sealed-file commands.

import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSealed, loadSplit, openKeyAccess } from '../../src/run/index.js';
import { inspectFile, unsealFile, unsealFileToMemory } from '../../src/seal/index.js';

let dir: string;
let fifo: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealtrain-fifo-'));
  fifo = join(dir, 'train.tensor.sealed');
  execFileSync('mkfifo', [fifo]);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const notRegular = (path: string) =>
  expect.objectContaining({
    code: 'ERR_IO_FAILED',
    message: expect.stringMatching(new RegExp(`${path.replace(/[.]/g, '\\.')}.*not a regular file`)),
  });

describe('a named pipe as an input', () => {
  it('is refused by the run before any key is asked for, naming the file', async () => {
    await expect(isSealed(fifo)).rejects.toEqual(notRegular(fifo));
    await expect(loadSplit(fifo, [])).rejects.toEqual(notRegular(fifo));
    const events: unknown[] = [];
    await expect(
      openKeyAccess({
        inputs: [fifo],
        outputKey: 'local:owner',
        attestation: true,
        audit: { sink: { record: async (e) => void events.push(e) }, actor: 'test' },
      }),
    ).rejects.toEqual(notRegular(fifo));
    expect(events).toEqual([]);
  });

  it('is refused by unseal, inspect and the in-memory unseal, naming the file', async () => {
    await expect(unsealFileToMemory(fifo, { providers: [] })).rejects.toEqual(notRegular(fifo));
    await expect(unsealFile(fifo, join(dir, 'out'), { providers: [] })).rejects.toEqual(notRegular(fifo));
    await expect(inspectFile(fifo)).rejects.toEqual(notRegular(fifo));
  });

  it('still tells a folder apart from a file', async () => {
    await expect(unsealFileToMemory(dir, { providers: [] })).rejects.toMatchObject({
      code: 'ERR_USAGE_INVALID',
      message: expect.stringContaining('it is a folder'),
    });
  });
});
