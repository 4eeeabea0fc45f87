import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ChunkCipher } from '../../src/seal/internal/chunk-cipher.js';
import { staticProvider } from '../vectors/static-provider.mjs';

// Every buffer the body engine decrypts into, to check that it was wiped once the call returns.
const decryptedInto = vi.hoisted(() => [] as Uint8Array[]);
vi.mock('../../src/seal/internal/context.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/seal/internal/context.js')>();
  const cipher = real.chunkCipher();
  const spy: ChunkCipher = {
    ...cipher,
    openAsync: (key, src, dst, ...rest) => {
      decryptedInto.push(dst);
      return cipher.openAsync(key, src, dst, ...rest);
    },
  };
  return {
    ...real,
    chunkCipher: () => spy,
    engineOptions: (...args: Parameters<typeof real.engineOptions>) => ({
      ...real.engineOptions(...args),
      cipher: spy,
    }),
  };
});

const { reencryptFile, sealFile, verifySealedFile } = await import('../../src/seal/index.js');

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealtrain-reencrypt-fail-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('reencryptFile when writing the new copy fails', () => {
  it('a full disk → ERR_IO_NO_SPACE; the decrypting side stops and wipes; the original is intact', async () => {
    const providers = [staticProvider({ k: { 1: randomBytes(32) } })];
    const input = join(dir, 'data.bin');
    const plain = randomBytes(24 * 1024 * 1024);
    await writeFile(input, plain);
    const path = join(dir, 'data.sealed');
    await sealFile(input, path, { recipients: ['local:k'], providers });
    const before = await readFile(path);
    const mnt = join(dir, 'small');
    await mkdir(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]);
    try {
      decryptedInto.length = 0;
      const out = join(mnt, 'data.sealed');
      await expect(reencryptFile(path, { providers, output: out })).rejects.toMatchObject({
        code: 'ERR_IO_NO_SPACE',
      });
      expect(decryptedInto.length).toBeGreaterThan(0);
      const kept = decryptedInto.filter((b) => b.some((x) => x !== 0));
      expect(kept.length).toBe(0);
      expect(await readdir(mnt)).toEqual([]);
    } finally {
      execFileSync('umount', [mnt]);
    }
    expect(Buffer.compare(await readFile(path), before)).toBe(0);
    expect((await verifySealedFile(path, providers)).plaintextLength).toBe(plain.length);
  });

  it('a new recipient that does not exist fails before sealing starts, and still wipes', async () => {
    const providers = [staticProvider({ k: { 1: randomBytes(32) } })];
    const input = join(dir, 'early.bin');
    await writeFile(input, randomBytes(24 * 1024 * 1024));
    const path = join(dir, 'early.sealed');
    await sealFile(input, path, { recipients: ['local:k'], providers });
    const before = await readFile(path);
    decryptedInto.length = 0;
    await expect(reencryptFile(path, { providers, recipients: ['local:nobody'] })).rejects.toMatchObject({
      code: 'ERR_KMS_KEY_NOT_FOUND',
    });
    expect(decryptedInto.filter((b) => b.some((x) => x !== 0)).length).toBe(0);
    expect(Buffer.compare(await readFile(path), before)).toBe(0);
    expect((await readdir(dir)).filter((f) => f.startsWith('.'))).toEqual([]);
  });
});
