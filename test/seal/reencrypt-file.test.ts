import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeyProvider, WrappedKey } from '../../src/kms/index.js';
import { reencryptFile, sealFile, verifySealedFile } from '../../src/seal/index.js';
import { removePendingTempFiles } from '../../src/store/index.js';
import { staticProvider } from '../vectors/static-provider.mjs';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealtrain-reencrypt-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const inner = staticProvider({ k: { 1: randomBytes(32) } }) as KeyProvider;

describe('reencryptFile', () => {
  it('a signal while the new copy is verified removes the copy', async () => {
    const work = join(dir, 'signal');
    await mkdir(work);
    let unwraps = 0;
    let atSignal: string[] = [];
    // The second unwrap opens the finished copy for verification: the signal handler runs then.
    const provider: KeyProvider = {
      ...inner,
      async unwrap(w: WrappedKey): Promise<Uint8Array> {
        if (++unwraps === 2) {
          removePendingTempFiles();
          atSignal = await readdir(work);
        }
        return inner.unwrap(w);
      },
    };
    const path = join(work, 'data.sealed');
    await writeFile(join(dir, 'signal.bin'), randomBytes(100_000));
    await sealFile(join(dir, 'signal.bin'), path, { recipients: ['local:k'], providers: [provider] });
    const before = await readFile(path);
    await expect(reencryptFile(path, { providers: [provider] })).rejects.toThrow();
    expect(unwraps).toBe(2);
    expect(atSignal).toEqual(['data.sealed']);
    expect(await readdir(work)).toEqual(['data.sealed']);
    expect(Buffer.compare(await readFile(path), before)).toBe(0);
    expect((await verifySealedFile(path, [inner])).plaintextLength).toBe(100_000);
  });
});
