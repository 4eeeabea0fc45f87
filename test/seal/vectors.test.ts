import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSealtrainError } from '../../src/errors/index.js';
import { unsealBuffer, unsealFile } from '../../src/seal/index.js';
import { staticProvider } from '../vectors/static-provider.mjs';

interface Vector {
  name: string;
  description: string;
  expect: string;
  keys: Record<string, Record<string, string>>;
  plaintext_sha256?: string;
  sealed: string;
}

const DIR = new URL('../vectors/files/', import.meta.url);
const files = (await readdir(DIR)).filter((f) => f.endsWith('.json')).sort();
const vectors: Vector[] = await Promise.all(
  files.map(async (f) => JSON.parse(await readFile(new URL(f, DIR), 'utf8')) as Vector),
);
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function providerFor(v: Vector) {
  const keks = Object.fromEntries(
    Object.entries(v.keys).map(([n, vs]) => [
      n,
      Object.fromEntries(Object.entries(vs).map(([ver, k]) => [ver, Buffer.from(k, 'hex')])),
    ]),
  );
  return staticProvider(keks);
}

async function outcome(run: () => Promise<Buffer>): Promise<{ code: string; plain?: Buffer }> {
  try {
    return { code: 'ok', plain: await run() };
  } catch (error) {
    return {
      code:
        isSealtrainError(error) || (error as { code?: string }).code
          ? String((error as { code: string }).code)
          : String(error),
    };
  }
}

let tmp = '';
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'sealtrain-vec-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('sealed-file v1 test vectors', () => {
  it('has vectors for success and for every failure kind', () => {
    const kinds = new Set(vectors.map((v) => v.expect));
    for (const k of [
      'ok',
      'ERR_SEAL_NOT_SEALED',
      'ERR_SEAL_UNSUPPORTED_VERSION',
      'ERR_SEAL_MALFORMED_HEADER',
      'ERR_SEAL_HEADER_TAMPERED',
      'ERR_SEAL_DECRYPT_FAILED',
      'ERR_SEAL_TRUNCATED',
      'ERR_SEAL_NO_RECIPIENT',
      'ERR_KMS_UNWRAP_FAILED',
    ]) {
      expect(kinds, k).toContain(k);
    }
  });

  for (const v of vectors) {
    it(`${v.name}: ${v.description} → ${v.expect}`, async () => {
      const providers = [providerFor(v)];
      const sealed = Buffer.from(v.sealed, 'base64');
      const inMemory = await outcome(() => unsealBuffer(sealed, { providers }));
      const path = join(tmp, `${v.name}.sealed`);
      await writeFile(path, sealed);
      const out = join(tmp, `${v.name}.out`);
      const fromFile = await outcome(async () => {
        await unsealFile(path, out, { providers });
        return readFile(out);
      });
      expect(inMemory.code).toBe(v.expect);
      expect(fromFile.code).toBe(v.expect);
      if (v.expect === 'ok') {
        expect(sha(inMemory.plain ?? Buffer.alloc(1))).toBe(v.plaintext_sha256);
        expect(sha(fromFile.plain ?? Buffer.alloc(1))).toBe(v.plaintext_sha256);
      } else {
        await expect(readFile(out), 'no output after a failure').rejects.toThrow(/ENOENT/);
      }
    });
  }
});
