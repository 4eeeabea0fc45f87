import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSealtrainError } from '../../src/errors/index.js';
import {
  bodyDigestOf,
  chunkCipher,
  inspectFile,
  rewrapFile,
  SealedReader,
  sealFile,
  unsealFile,
  verifySealedFile,
} from '../../src/seal/index.js';
import { cli, freshHome } from '../helpers/cli.js';
import { staticProvider } from '../vectors/static-provider.mjs';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const providers = [staticProvider({ k: { 1: randomBytes(32), 2: randomBytes(32) } })];
let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealtrain-seal-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('sealFile / unsealFile', () => {
  it('uses the native OpenSSL chunk cipher (a failed addon build must not go unnoticed)', () => {
    expect(chunkCipher().name).toBe('native');
  });

  it('round-trips sizes around chunk and batch boundaries', async () => {
    for (const size of [0, 1, 4095, 4096, 4097, 4 * 1024 * 1024, 4 * 1024 * 1024 + 1, 9_000_000]) {
      const input = join(dir, `in-${size}`);
      const data = randomBytes(size);
      await writeFile(input, data);
      const r = await sealFile(input, `${input}.sealed`, {
        recipients: ['local:k'],
        providers,
        chunkSize: 4096,
      });
      expect(r.plaintextLength).toBe(size);
      expect(r.chunkCount).toBe(Math.max(1, Math.ceil(size / 4096)));
      expect(bodyDigestOf((await readFile(`${input}.sealed`)).subarray(16 + 2 * 8192), 4096)).toBe(
        r.bodyDigest,
      );
      const u = await unsealFile(`${input}.sealed`, `${input}.out`, { providers });
      expect(u.bodyDigest).toBe(r.bodyDigest);
      expect(sha(await readFile(`${input}.out`))).toBe(sha(data));
    }
  });

  it('seals a stream whose length is unknown and records length null', async () => {
    const data = randomBytes(70_000);
    const out = join(dir, 'streamed.sealed');
    const stdin = Readable.from([data.subarray(0, 1000), data.subarray(1000, 50_000), data.subarray(50_000)]);
    await sealFile('-', out, { recipients: ['local:k'], providers, stdio: { stdin } });
    const sink = new PassThrough();
    const parts: Buffer[] = [];
    sink.on('data', (d: Buffer) => parts.push(d));
    await unsealFile(out, '-', { providers, stdio: { stdout: sink } });
    expect(Buffer.compare(Buffer.concat(parts), data)).toBe(0);
    expect((await inspectFile(out)).plaintextLength).toBe(70_000);
  });

  it('reads any chunk and any range at random', async () => {
    const data = randomBytes(100_000);
    const input = join(dir, 'ra');
    await writeFile(input, data);
    await sealFile(input, `${input}.sealed`, { recipients: ['local:k'], providers, chunkSize: 4096 });
    const reader = await SealedReader.open(`${input}.sealed`, { providers });
    try {
      expect(reader.chunkCount).toBe(25);
      expect(Buffer.compare(await reader.readChunk(24), data.subarray(24 * 4096))).toBe(0);
      expect(Buffer.compare(await reader.readChunk(7), data.subarray(7 * 4096, 8 * 4096))).toBe(0);
      expect(Buffer.compare(await reader.read(10_000, 20_000), data.subarray(10_000, 30_000))).toBe(0);
      expect(Buffer.compare(await reader.read(99_990, 100), data.subarray(99_990))).toBe(0);
      await expect(reader.readChunk(25)).rejects.toMatchObject({ code: 'ERR_USAGE_INVALID' });
    } finally {
      await reader.close();
    }
    const bytes = await readFile(`${input}.sealed`);
    const at = 16 + 2 * 8192 + 3 * 4112 + 5;
    bytes[at] = (bytes[at] ?? 0) ^ 1;
    await writeFile(`${input}.bad`, bytes);
    const bad = await SealedReader.open(`${input}.bad`, { providers });
    try {
      expect((await bad.readChunk(2)).length).toBe(4096);
      await expect(bad.readChunk(3)).rejects.toMatchObject({ code: 'ERR_SEAL_DECRYPT_FAILED' });
    } finally {
      await bad.close();
    }
  });

  it('rewrap survives a crash after the new slot is written (old slot not yet erased)', async () => {
    const input = join(dir, 'crash');
    await writeFile(input, randomBytes(10_000));
    const path = `${input}.sealed`;
    await sealFile(input, path, { recipients: ['local:k/1'], providers });
    const before = await readFile(path);
    await rewrapFile(path, { providers, recipients: ['local:k/2'] });
    const after = await readFile(path);
    // Reconstruct the instant before the old slot was erased: both slots present.
    const both = Buffer.from(after);
    before.copy(both, 16, 16, 16 + 8192);
    await writeFile(path, both);
    expect((await verifySealedFile(path, providers)).plaintextLength).toBe(10_000);
    expect((await inspectFile(path)).recipients[0]?.version).toBe('2');
    // And a torn new slot: the old one still opens.
    const torn = Buffer.from(both);
    torn.fill(0xff, 16 + 8192 + 100, 16 + 8192 + 200);
    await writeFile(path, torn);
    expect((await verifySealedFile(path, providers)).plaintextLength).toBe(10_000);
  });

  it('refuses an output that exists, naming it, and leaves no temp files', async () => {
    const input = join(dir, 'exists');
    await writeFile(input, 'data');
    await writeFile(`${input}.sealed`, 'keep');
    const err = await sealFile(input, `${input}.sealed`, { recipients: ['local:k'], providers }).catch(
      (e: unknown) => e,
    );
    expect(isSealtrainError(err, 'ERR_IO_EXISTS')).toBe(true);
    expect(String((err as Error).message)).toContain(`${input}.sealed`);
    expect(await readFile(`${input}.sealed`, 'utf8')).toBe('keep');
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('rejects a bad chunk size and too many recipients', async () => {
    const input = join(dir, 'limits');
    await writeFile(input, 'x');
    await expect(
      sealFile(input, `${input}.a`, { recipients: ['local:k'], providers, chunkSize: 5000 }),
    ).rejects.toMatchObject({
      code: 'ERR_SEAL_LIMIT',
    });
    const many = Array.from({ length: 17 }, () => 'local:k');
    await expect(sealFile(input, `${input}.b`, { recipients: many, providers })).rejects.toMatchObject({
      code: 'ERR_SEAL_LIMIT',
    });
  });
});

describe('interrupted commands leave nothing partial', () => {
  it('SIGINT during a large seal removes the temp file and exits 130', async () => {
    const ctx = await freshHome();
    try {
      await cli([...ctx.base, 'keys', 'init', '--scrypt-cost', '1024']);
      await cli([...ctx.base, 'keys', 'create', 'a']);
      const big = join(ctx.dir, 'big.bin');
      await writeFile(big, Buffer.alloc(512 * 1024 * 1024, 1));
      const out = join(ctx.dir, 'big.sealed');
      const r = await cli([...ctx.base, 'seal', big, '-o', out, '--key', 'local:a'], {
        signalWhenFile: { signal: 'SIGINT', dir: ctx.dir, suffix: '.tmp' },
      });
      expect(r.code, r.stderr).toBe(130);
      await expect(stat(out)).rejects.toThrow(/ENOENT/);
      expect((await readdir(ctx.dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      await ctx.cleanup();
    }
  });

  it('kill -9 during a seal never leaves a partial output under the target name', async () => {
    const ctx = await freshHome();
    try {
      await cli([...ctx.base, 'keys', 'init', '--scrypt-cost', '1024']);
      await cli([...ctx.base, 'keys', 'create', 'a']);
      const big = join(ctx.dir, 'big.bin');
      await writeFile(big, Buffer.alloc(256 * 1024 * 1024, 2));
      const out = join(ctx.dir, 'big.sealed');
      const whole = 16 + 2 * 8192 + 256 * 1024 * 1024 + 4096 * 16;
      for (const ms of [150, 300, 600]) {
        await rm(out, { force: true });
        const r = await cli([...ctx.base, 'seal', big, '-o', out, '--key', 'local:a'], {
          signalAfterMs: { signal: 'SIGKILL', ms },
        });
        // Killed before the rename, nothing is under the name; after it (the kill may still come
        // before the exit, on a loaded machine), the whole file is.
        const found = await stat(out).catch((error: unknown) => {
          expect(String(error)).toMatch(/ENOENT/);
          return undefined;
        });
        if (found) expect(found.size).toBe(whole);
        if (r.code === 0) expect(found?.size).toBe(whole);
      }
    } finally {
      await ctx.cleanup();
    }
  });
});
