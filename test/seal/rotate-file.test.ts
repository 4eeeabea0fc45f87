import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyProvider, WrappedKey } from '../../src/kms/index.js';
import {
  inspectFile,
  reencryptFile,
  rewrapFile,
  sealFile,
  unsealFile,
  verifySealedFile,
} from '../../src/seal/index.js';
import { rejectsWith } from '../helpers/rejects.js';
import { staticProvider } from '../vectors/static-provider.mjs';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealtrain-rotate-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A provider that wraps honestly until `broken` is set, then returns random bytes from `wrap`. */
function breakable(inner: KeyProvider): KeyProvider & { broken: boolean } {
  const p = {
    ...inner,
    broken: false,
    async wrap(uri: string, dek: Uint8Array): Promise<WrappedKey> {
      const w = await inner.wrap(uri, dek);
      return p.broken ? { ...w, wrapped: randomBytes(w.wrapped.length) } : w;
    },
  };
  return p;
}

/**
 * A toy provider whose "wrap" is XOR with a pad, so garbage unwraps without an error to a
 * wrong 32-byte key (as a provider without an integrity check would).
 */
function xorProvider(): KeyProvider {
  const pad = randomBytes(32);
  const xor = (b: Uint8Array): Buffer => Buffer.from(b.map((x, i) => x ^ (pad[i] ?? 0)));
  const base = staticProvider({ k: { 1: randomBytes(32) } }) as KeyProvider;
  return {
    ...base,
    async wrap(uri: string, dek: Uint8Array): Promise<WrappedKey> {
      return { uri: uri.split('/')[0] ?? uri, version: '1', alg: 'XOR', wrapped: xor(dek) };
    },
    async unwrap(w: WrappedKey): Promise<Uint8Array> {
      return xor(w.wrapped);
    },
  };
}

describe('rewrapFile checks the new wrapped keys before erasing the old header', () => {
  const cases: Array<[string, () => KeyProvider & { broken: boolean }]> = [
    [
      'wrap returns garbage that fails to unwrap',
      () => breakable(staticProvider({ k: { 1: randomBytes(32) } })),
    ],
    ['wrap returns garbage that unwraps to a wrong key', () => breakable(xorProvider())],
  ];
  for (const [title, make] of cases) {
    it(title, async () => {
      const provider = make();
      const providers = [provider];
      const input = join(dir, `in-${title.length}`);
      await writeFile(input, randomBytes(20_000));
      const path = `${input}.sealed`;
      await sealFile(input, path, { recipients: ['local:k'], providers, chunkSize: 4096 });
      const before = await readFile(path);
      provider.broken = true;
      await expect(rewrapFile(path, { providers })).rejects.toMatchObject({ code: 'ERR_KMS_UNWRAP_FAILED' });
      expect(Buffer.compare(await readFile(path), before)).toBe(0);
      expect((await verifySealedFile(path, providers)).plaintextLength).toBe(20_000);
      provider.broken = false;
      await rewrapFile(path, { providers });
      expect((await verifySealedFile(path, providers)).plaintextLength).toBe(20_000);
      expect((await inspectFile(path)).recipients).toHaveLength(1);
    });
  }

  it('with -o, a bad wrap leaves neither the output nor a temp file', async () => {
    const provider = breakable(staticProvider({ k: { 1: randomBytes(32) } }));
    const input = join(dir, 'staged');
    await writeFile(input, randomBytes(5000));
    await sealFile(input, `${input}.sealed`, { recipients: ['local:k'], providers: [provider] });
    provider.broken = true;
    await expect(
      rewrapFile(`${input}.sealed`, { providers: [provider], output: `${input}.out` }),
    ).rejects.toMatchObject({ code: 'ERR_KMS_UNWRAP_FAILED' });
    await expect(readFile(`${input}.out`)).rejects.toThrow(/ENOENT/);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('unwrapped data keys are wiped', () => {
  it('every buffer a provider returns from unwrap is zero after unseal, rewrap and reencrypt', async () => {
    const inner = staticProvider({ k: { 1: randomBytes(32), 2: randomBytes(32) } }) as KeyProvider;
    const returned: Uint8Array[] = [];
    const spy: KeyProvider = {
      ...inner,
      async unwrap(w: WrappedKey): Promise<Uint8Array> {
        const dek = await inner.unwrap(w);
        returned.push(dek);
        return dek;
      },
    };
    const providers = [spy];
    const input = join(dir, 'wipe');
    await writeFile(input, randomBytes(9000));
    const path = `${input}.sealed`;
    await sealFile(input, path, { recipients: ['local:k/1'], providers });
    await unsealFile(path, `${input}.out`, { providers });
    await rewrapFile(path, { providers, recipients: ['local:k/2'] });
    await reencryptFile(path, { providers });
    expect(returned.length).toBeGreaterThanOrEqual(4);
    for (const dek of returned) expect(Buffer.from(dek).equals(Buffer.alloc(dek.length))).toBe(true);
  });
});

describe('rewrapFile on a damaged file', () => {
  it('refuses a truncated or extended file before touching its header', async () => {
    const provider = staticProvider({ k: { 1: randomBytes(32), 2: randomBytes(32) } });
    const input = join(dir, 'damaged.bin');
    await writeFile(input, randomBytes(200_000));
    const sealed = join(dir, 'damaged.sealed');
    await sealFile(input, sealed, { recipients: ['local:k/1'], providers: [provider], chunkSize: 65536 });
    const whole = await readFile(sealed);
    for (const [bytes, code] of [
      [whole.subarray(0, whole.length - 1000), 'ERR_SEAL_TRUNCATED'],
      [Buffer.concat([whole, Buffer.alloc(5)]), 'ERR_SEAL_DECRYPT_FAILED'],
    ] as const) {
      await writeFile(sealed, bytes);
      await rejectsWith(rewrapFile(sealed, { providers: [provider] }), code);
      expect((await readFile(sealed)).equals(bytes)).toBe(true);
    }
  });
});
