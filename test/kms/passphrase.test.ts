import { closeSync, openSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readPassphrase } from '../../src/kms/index.js';
import { rejectsWith, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(() => cleanup());

async function fileWith(content: string | Buffer): Promise<string> {
  const path = join(dir, `pass-${Math.random().toString(36).slice(2)}.txt`);
  await writeFile(path, content);
  return path;
}

/** A prompt's input and output; `tty` makes the input look like a terminal. */
function terminal(tty = false) {
  const input = new PassThrough() as PassThrough & { isTTY?: boolean; setRawMode?: (on: boolean) => void };
  const modes: boolean[] = [];
  if (tty) {
    input.isTTY = true;
    input.setRawMode = (on) => void modes.push(on);
  }
  const output = new PassThrough();
  let shown = '';
  output.on('data', (d: Buffer) => {
    shown += d.toString();
  });
  return { input, output, modes, shown: () => shown };
}

describe('readPassphrase from a file', () => {
  it('reads the first line without its line end', async () => {
    for (const content of ['s3cret pass\n', 's3cret pass\r\n', 's3cret pass', 's3cret pass\nsecond line\n']) {
      expect((await readPassphrase({ file: await fileWith(content) })).toString()).toBe('s3cret pass');
    }
    const bytes = Buffer.from([0xc3, 0xa9, 0x00, 0x20, 0x0a]);
    expect(await readPassphrase({ file: await fileWith(bytes) })).toEqual(bytes.subarray(0, 4));
  });

  it('names a missing file', async () => {
    const missing = join(dir, 'nope.txt');
    const err = await rejectsWith(readPassphrase({ file: missing }), 'ERR_IO_NOT_FOUND');
    expect(err.message).toContain(missing);
  });

  it('refuses an empty passphrase', async () => {
    for (const content of ['', '\n', '\r\n', '\nafter']) {
      const file = await fileWith(content);
      const err = await rejectsWith(readPassphrase({ file }), 'ERR_KMS_PASSPHRASE_REQUIRED');
      expect(err.message).toContain(file);
    }
  });

  it('refuses a file and a descriptor together', async () => {
    await rejectsWith(readPassphrase({ file: await fileWith('x'), fd: 0 }), 'ERR_USAGE_INVALID');
  });
});

describe('readPassphrase from a file descriptor', () => {
  it('reads to the end and keeps the first line', async () => {
    const fd = openSync(await fileWith('from the fd\r\nignored\n'), 'r');
    try {
      expect((await readPassphrase({ fd })).toString()).toBe('from the fd');
    } finally {
      closeSync(fd);
    }
    const big = openSync(await fileWith(`${'p'.repeat(10_000)}\n`), 'r');
    try {
      expect((await readPassphrase({ fd: big })).length).toBe(10_000);
    } finally {
      closeSync(big);
    }
  });

  it('refuses an empty descriptor and a closed one', async () => {
    const fd = openSync(await fileWith(''), 'r');
    try {
      await rejectsWith(readPassphrase({ fd }), 'ERR_KMS_PASSPHRASE_REQUIRED');
    } finally {
      closeSync(fd);
    }
    const closed = openSync(await fileWith('x'), 'r');
    closeSync(closed);
    await rejectsWith(readPassphrase({ fd: closed }), 'ERR_IO_FAILED');
  });
});

describe('readPassphrase from a prompt', () => {
  it.skipIf(process.stdin.isTTY === true)(
    'without a terminal, says to use a file or descriptor',
    async () => {
      const err = await rejectsWith(readPassphrase({}), 'ERR_KMS_PASSPHRASE_REQUIRED');
      expect(err.message).toContain('--passphrase-file');
      expect(err.message).toContain('--passphrase-fd');
    },
  );

  it('reads a line from the given input and writes the prompt', async () => {
    const t = terminal();
    const pending = readPassphrase({ input: t.input, output: t.output, prompt: 'Key? ' });
    t.input.write('typed secret\r\n');
    expect((await pending).toString()).toBe('typed secret');
    expect(t.shown()).toBe('Key? ');
  });

  it('asks twice with confirm and refuses a mismatch', async () => {
    const same = terminal();
    const ok = readPassphrase({ input: same.input, output: same.output, confirm: true });
    same.input.write('one\none\n');
    expect((await ok).toString()).toBe('one');
    expect(same.shown()).toContain('Repeat the passphrase: ');
    const differ = terminal();
    const bad = readPassphrase({ input: differ.input, output: differ.output, confirm: true });
    differ.input.write('one\n');
    setTimeout(() => differ.input.write('uno\n'), 20);
    const err = await rejectsWith(bad, 'ERR_KMS_PASSPHRASE_REQUIRED');
    expect(err.message).not.toContain('one');
    expect(err.message).not.toContain('uno');
  });

  it('on a terminal: no echo, backspace and Ctrl-U edit, raw mode is restored', async () => {
    const t = terminal(true);
    const pending = readPassphrase({ input: t.input, output: t.output, prompt: 'P: ' });
    t.input.write(Buffer.from('wrong\x15ab\xc3\xa9\x7fc\r', 'latin1'));
    expect((await pending).toString()).toBe('abc');
    expect(t.shown()).toBe('P: \n');
    expect(t.modes).toEqual([true, false]);
  });

  it('on a terminal: Ctrl-C cancels and restores the mode', async () => {
    const t = terminal(true);
    const pending = readPassphrase({ input: t.input, output: t.output });
    t.input.write('abc\x03');
    await rejectsWith(pending, 'ERR_KMS_PASSPHRASE_REQUIRED');
    expect(t.modes).toEqual([true, false]);
  });

  it('refuses an empty answer and an input that ends first', async () => {
    const t = terminal();
    const pending = readPassphrase({ input: t.input, output: t.output });
    t.input.end();
    await rejectsWith(pending, 'ERR_KMS_PASSPHRASE_REQUIRED');
    const e = terminal();
    const empty = readPassphrase({ input: e.input, output: e.output });
    e.input.write('\n');
    await rejectsWith(empty, 'ERR_KMS_PASSPHRASE_REQUIRED');
  });
});
