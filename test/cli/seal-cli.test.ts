import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/cli/index.js';
import { cli, freshHome } from '../helpers/cli.js';

const PASSPHRASE = 'correct horse battery staple';
let ctx: Awaited<ReturnType<typeof freshHome>>;
let data: string;
let sealed: string;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

beforeAll(async () => {
  ctx = await freshHome(PASSPHRASE);
  expect((await cli([...ctx.base, 'keys', 'init', '--scrypt-cost', '1024'])).code).toBe(0);
  expect((await cli([...ctx.base, 'keys', 'create', 'a'])).code).toBe(0);
  data = join(ctx.dir, 'data.csv');
  await writeFile(data, randomBytes(300_000));
  sealed = join(ctx.dir, 'data.sealed');
  const r = await cli([
    ...ctx.base,
    'seal',
    data,
    '-o',
    sealed,
    '--key',
    'local:a',
    '--dataset-id',
    'd1',
    '--json',
  ]);
  expect(r.code, r.stderr).toBe(0);
});
afterAll(() => ctx.cleanup());

async function expectFailure(args: string[], code: keyof typeof EXIT_CODES, mention?: string) {
  const r = await cli([...args, '--json']);
  expect(r.code, r.stderr).toBe(EXIT_CODES[code]);
  expect((r.json?.error as { code?: string } | undefined)?.code).toBe(code);
  if (mention) expect(r.stderr).toContain(mention);
  return r;
}

async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

describe('sealtrain seal / unseal / inspect', () => {
  it('round-trips a file and reports it as JSON', async () => {
    const out = join(ctx.dir, 'back.csv');
    const r = await cli([...ctx.base, 'unseal', sealed, '-o', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ ok: true, plaintext_length: 300_000, key: 'local:a/1' });
    expect(sha(await readFile(out))).toBe(sha(await readFile(data)));
  });

  it('inspects the header without a passphrase', async () => {
    const r = await cli(['--home', ctx.home, 'inspect', sealed, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const file = r.json?.file as Record<string, unknown>;
    expect(file).toMatchObject({
      formatVersion: 1,
      chunkSize: 65536,
      chunkCount: 5,
      plaintextLength: 300_000,
      authenticated: false,
    });
    expect(file.meta).toEqual({ dataset_id: 'd1' });
    expect(file.recipients).toEqual([{ uri: 'local:a', version: '1', alg: 'A256KW' }]);
  });

  it('streams stdin to stdout both ways', async () => {
    const input = randomBytes(200_000);
    const s = await cli([...ctx.base, 'seal', '-', '-o', '-', '--key', 'local:a'], { input });
    expect(s.code, s.stderr).toBe(0);
    const u = await cli([...ctx.base, 'unseal', '-', '-o', '-'], { input: s.stdout });
    expect(u.code, u.stderr).toBe(0);
    expect(Buffer.compare(u.stdout, input)).toBe(0);
  });

  it('puts the --json summary on stderr when stdout carries the data', async () => {
    const s = await cli([...ctx.base, 'seal', '-', '-o', '-', '--key', 'local:a', '--json'], { input: 'x' });
    expect(s.code).toBe(0);
    expect(s.stdout.subarray(0, 8).toString('latin1')).toBe('\x89STSEAL\n');
    expect(JSON.parse(s.stderr.trim().split('\n').pop() ?? '')).toMatchObject({
      ok: true,
      plaintext_length: 1,
    });
  });

  it('puts the --json error on stderr when stdout carries the data', async () => {
    const bytes = await readFile(sealed);
    const bad = join(ctx.dir, 'tampered-stdout.sealed');
    await writeFile(bad, flip(bytes, bytes.length - 5));
    const plain = await readFile(data);
    const lastJson = (stderr: string): unknown => JSON.parse(stderr.trim().split('\n').pop() ?? '');
    const r = await cli([...ctx.base, 'unseal', bad, '-o', '-', '--json']);
    expect(r.code, r.stderr).toBe(EXIT_CODES.ERR_SEAL_DECRYPT_FAILED);
    // stdout holds plaintext from before the failed chunk and nothing else.
    expect(Buffer.compare(r.stdout, plain.subarray(0, r.stdout.length))).toBe(0);
    expect(lastJson(r.stderr)).toMatchObject({ ok: false, error: { code: 'ERR_SEAL_DECRYPT_FAILED' } });
    // A usage error before the command runs goes the same way.
    const u = await cli([...ctx.base, 'unseal', bad, '-o', '-', '--json', '--bogus']);
    expect(u.code).toBe(EXIT_CODES.ERR_USAGE_INVALID);
    expect(u.stdout.length).toBe(0);
    expect(lastJson(u.stderr)).toMatchObject({ ok: false, error: { code: 'ERR_USAGE_INVALID' } });
  });

  it('reads the passphrase from a file descriptor', async () => {
    const out = join(ctx.dir, 'fd.csv');
    const r = await cli(['--home', ctx.home, '--passphrase-fd', '3', 'unseal', sealed, '-o', out], {
      fd3: `${PASSPHRASE}\n`,
    });
    expect(r.code, r.stderr).toBe(0);
  });

  it('seals for several recipients; each can open alone', async () => {
    expect((await cli([...ctx.base, 'keys', 'create', 'b'])).code).toBe(0);
    const two = join(ctx.dir, 'two.sealed');
    expect(
      (await cli([...ctx.base, 'seal', data, '-o', two, '--key', 'local:a', '--key', 'local:b'])).code,
    ).toBe(0);
    for (const k of ['local:a', 'local:b']) {
      const r = await cli([
        ...ctx.base,
        'unseal',
        two,
        '-o',
        join(ctx.dir, `two-${k.slice(6)}.csv`),
        '--key',
        k,
        '--json',
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.json?.key).toBe(`${k}/1`);
    }
  });
});

describe('audit show', () => {
  it('escapes control characters that a file name put into the log', async () => {
    const evil = join(ctx.dir, 'evil\u001b[2J.sealed');
    expect((await cli([...ctx.base, 'seal', data, '-o', evil, '--key', 'local:a'])).code).toBe(0);
    const r = await cli(['--home', ctx.home, 'audit', 'show', '--action', 'seal']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('\u001b');
    expect(r.stderr).toContain('evil\\u001b[2J.sealed');
  });
});

describe('bad input: distinct codes, named files, nothing left behind', () => {
  it('refuses to overwrite without --force and keeps the existing file', async () => {
    const out = join(ctx.dir, 'keep.csv');
    await writeFile(out, 'precious');
    const r = await expectFailure([...ctx.base, 'unseal', sealed, '-o', out], 'ERR_IO_EXISTS', out);
    expect(r.stderr).toContain('--force');
    expect(await readFile(out, 'utf8')).toBe('precious');
    expect((await cli([...ctx.base, 'unseal', sealed, '-o', out, '--force'])).code).toBe(0);
  });

  it('wrong passphrase', async () => {
    const bad = join(ctx.dir, 'bad-pass.txt');
    await writeFile(bad, 'not it\n');
    await expectFailure(
      ['--home', ctx.home, '--passphrase-file', bad, 'unseal', sealed, '-o', join(ctx.dir, 'x')],
      'ERR_KMS_WRONG_PASSPHRASE',
    );
  });

  it('no passphrase source and no terminal', async () => {
    await expectFailure(
      ['--home', ctx.home, 'unseal', sealed, '-o', join(ctx.dir, 'x')],
      'ERR_KMS_PASSPHRASE_REQUIRED',
    );
  });

  it('a missing input names the file', async () => {
    const missing = join(ctx.dir, 'nope.sealed');
    await expectFailure(
      [...ctx.base, 'unseal', missing, '-o', join(ctx.dir, 'x')],
      'ERR_IO_NOT_FOUND',
      missing,
    );
  });

  it('a file that is not sealed', async () => {
    await expectFailure([...ctx.base, 'unseal', data, '-o', join(ctx.dir, 'x')], 'ERR_SEAL_NOT_SEALED', data);
  });

  const variants: Array<[string, (b: Buffer) => Buffer, keyof typeof EXIT_CODES]> = [
    ['a tampered chunk', (b) => flip(b, b.length - 1000), 'ERR_SEAL_DECRYPT_FAILED'],
    [
      'a tampered header',
      (b) => Buffer.from(b.toString('latin1').replace('"dataset_id":"d1"', '"dataset_id":"d2"'), 'latin1'),
      'ERR_SEAL_HEADER_TAMPERED',
    ],
    ['a truncated file', (b) => b.subarray(0, b.length - 70_000), 'ERR_SEAL_TRUNCATED'],
    ['an unknown format version', (b) => setByte(b, 9, 9), 'ERR_SEAL_UNSUPPORTED_VERSION'],
  ];
  for (const [what, mutate, code] of variants) {
    it(`${what} → ${code}, no output`, async () => {
      const bad = join(ctx.dir, `${code}.sealed`);
      await writeFile(bad, mutate(await readFile(sealed)));
      const out = join(ctx.dir, `${code}.out`);
      const r = await expectFailure([...ctx.base, 'unseal', bad, '-o', out], code, bad);
      await expect(stat(out)).rejects.toThrow(/ENOENT/);
      expect((await listDir(ctx.dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
      expect(r.stderr).not.toMatch(/offset|byte \d|chunk \d/i);
    });
  }

  it('a wrong key: another keyring with the same key name', async () => {
    const other = await freshHome('another passphrase');
    try {
      await cli([...other.base, 'keys', 'init', '--scrypt-cost', '1024']);
      await cli([...other.base, 'keys', 'create', 'a']);
      await expectFailure(
        [...other.base, 'unseal', sealed, '-o', join(other.dir, 'x')],
        'ERR_KMS_UNWRAP_FAILED',
        sealed,
      );
      await cli([...other.base, 'keys', 'create', 'zzz']);
      await expectFailure(
        [...other.base, 'unseal', sealed, '-o', join(other.dir, 'x'), '--key', 'local:zzz'],
        'ERR_SEAL_NO_RECIPIENT',
      );
    } finally {
      await other.cleanup();
    }
  });

  it('usage errors exit 2', async () => {
    await expectFailure(
      [...ctx.base, 'seal', data, '-o', join(ctx.dir, 'nokey.sealed')],
      'ERR_USAGE_INVALID',
    );
    await expectFailure([...ctx.base, 'seal', '--bogus'], 'ERR_USAGE_INVALID');
  });

  it('a full disk → ERR_IO_NO_SPACE and no partial file', async () => {
    const { execFileSync } = await import('node:child_process');
    const mnt = join(ctx.dir, 'small');
    await mkdir(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]);
    try {
      const out = join(mnt, 'data.csv');
      await expectFailure([...ctx.base, 'unseal', sealed, '-o', out], 'ERR_IO_NO_SPACE', out);
      expect(await listDir(mnt)).toEqual([]);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });

  it('a full stdout (/dev/full) → ERR_IO_NO_SPACE', async () => {
    const { spawnSync } = await import('node:child_process');
    const { BIN } = await import('../helpers/cli.js');
    const { openSync, closeSync } = await import('node:fs');
    const full = openSync('/dev/full', 'w');
    try {
      const r = spawnSync(process.execPath, [BIN, ...ctx.base, 'unseal', sealed, '-o', '-'], {
        stdio: ['ignore', full, 'pipe'],
      });
      expect(r.status, r.stderr.toString()).toBe(EXIT_CODES.ERR_IO_NO_SPACE);
    } finally {
      closeSync(full);
    }
  });
});

function flip(b: Buffer, at: number): Buffer {
  const c = Buffer.from(b);
  c[at] = (c[at] ?? 0) ^ 1;
  return c;
}

function setByte(b: Buffer, at: number, v: number): Buffer {
  const c = Buffer.from(b);
  c[at] = v;
  return c;
}
