import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalKeyring, type WrappedKey } from '../../src/kms/index.js';
import { newRing, PASSPHRASE, pass, tempDir } from './helpers.js';

/** The built module: a child process cannot load the TypeScript sources (`npm test` builds first). */
const BUILT = new URL('../../dist/kms/index.js', import.meta.url);

/** Opens the keyring and rotates key `k` until killed. */
const CHILD = `
const [, , moduleUrl, dir, passFile] = process.argv;
const { LocalKeyring, readPassphrase } = await import(moduleUrl);
const passphrase = await readPassphrase({ file: passFile });
const ring = await LocalKeyring.open(dir, passphrase);
process.stdout.write('ready\\n');
for (;;) await ring.rotate('k');
`;

let dir: string;
let ringDir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  ringDir = join(dir, 'keyring');
  await writeFile(join(dir, 'child.mjs'), CHILD);
  await writeFile(join(dir, 'pass.txt'), `${PASSPHRASE}\n`, { mode: 0o600 });
});
afterAll(() => cleanup());

/** Starts the rotating child and resolves once it is in its loop. */
function startChild(): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [join(dir, 'child.mjs'), BUILT.href, ringDir, join(dir, 'pass.txt')],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve, reject) => {
    child.stdout?.once('data', () => resolve(child));
    child.once('exit', (code) => reject(new Error(`child exited early (${code}): ${stderr}`)));
  });
}

function killHard(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

describe('LocalKeyring under kill -9', () => {
  it('stays whole and usable when a writer is killed at random moments', async () => {
    expect(existsSync(fileURLToPath(BUILT)), 'run `npm run build` before this test').toBe(true);
    const setup = await newRing(dir);
    await setup.create('k');
    const references: Array<{ wrapped: WrappedKey; dek: Buffer }> = [];
    const dek0 = randomBytes(32);
    references.push({ wrapped: await setup.wrap('local:k', dek0), dek: dek0 });
    setup.close();
    let staleLocks = 0;
    let versions = 1;

    for (let round = 0; round < 15; round++) {
      const child = await startChild();
      await new Promise((r) => setTimeout(r, randomInt(20, 300)));
      await killHard(child);

      const text = await readFile(join(ringDir, 'keyring.json'), 'utf8');
      expect(() => JSON.parse(text)).not.toThrow();
      const lock = join(ringDir, 'keyring.lock');
      if (existsSync(lock)) {
        staleLocks++;
        const holder = (await readFile(lock, 'utf8')).trim();
        expect(['', String(child.pid)]).toContain(holder);
      }

      const ring = await LocalKeyring.open(ringDir, pass());
      const listed = await ring.listVersions('k');
      expect(listed.map((v) => v.version)).toEqual(listed.map((_, i) => String(i + 1)));
      expect(listed.length).toBeGreaterThanOrEqual(versions);
      for (const ref of references) expect(Buffer.from(await ring.unwrap(ref.wrapped))).toEqual(ref.dek);
      for (const v of listed) {
        const probe = randomBytes(32);
        const w = await ring.wrap(`local:k/${v.version}`, probe);
        expect(Buffer.from(await ring.unwrap(w))).toEqual(probe);
      }
      // A dead child's lock must not block: this change takes it over.
      const made = await ring.rotate('k');
      versions = Number(made.version);
      const dekN = randomBytes(32);
      references.push({ wrapped: await ring.wrap('local:k', dekN), dek: dekN });
      ring.close();
      expect(await readdir(ringDir)).toEqual(['keyring.json']);
    }
    expect(staleLocks).toBeGreaterThan(0);
  });
});
