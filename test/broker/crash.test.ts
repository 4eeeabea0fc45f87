import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addPrincipal, BrokerStore, startBroker } from '../../src/broker/index.js';
import { cryptoClient, FAST_SCRYPT, keyClient, PASSPHRASE, pass, raw, tempDir } from './helpers.js';

/** The built module: a child process cannot load the TypeScript sources (`npm test` builds first). */
const BUILT = new URL('../../dist/broker/index.js', import.meta.url);

/** Starts a broker on the state folder and prints its URL and CA; runs until killed. */
const CHILD = `
const [, , moduleUrl, stateDir, passFile] = process.argv;
const { readFileSync } = await import('node:fs');
const { startBroker } = await import(moduleUrl);
const broker = await startBroker({
  stateDir,
  passphrase: readFileSync(passFile),
  log: () => {},
  rateLimit: { ratePerSecond: 1e6, burst: 1e6 },
});
process.stdout.write(JSON.stringify({ url: broker.url, caCertificate: broker.caCertificate }) + '\\n');
`;

let dir: string;
let stateDir: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  stateDir = join(dir, 'state');
  await writeFile(join(dir, 'child.mjs'), CHILD);
  await writeFile(join(dir, 'pass.txt'), PASSPHRASE, { mode: 0o600 });
});
afterAll(() => cleanup());

type Endpoint = {
  url: string;
  caCertificate: string;
  port: number;
  close: () => Promise<void>;
  caPath: string;
};

function startChild(): Promise<{ child: ChildProcess; endpoint: Endpoint }> {
  const child = spawn(
    process.execPath,
    [join(dir, 'child.mjs'), BUILT.href, stateDir, join(dir, 'pass.txt')],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((resolve, reject) => {
    child.stdout?.once('data', (d: Buffer) => {
      const info = JSON.parse(d.toString());
      resolve({ child, endpoint: { ...info, port: 0, caPath: '', close: async () => {} } });
    });
    child.once('exit', (code) => reject(new Error(`child exited early (${code}): ${stderr}`)));
  });
}

function killHard(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** Rotates key `k` until the broker dies; the versions the broker acknowledged. */
async function rotateUntilDead(endpoint: Endpoint, token: string): Promise<string[]> {
  const acked: string[] = [];
  for (;;) {
    try {
      const res = await raw(endpoint, '/keys/k/rotate?api-version=7.6', { method: 'POST', token });
      if (res.status !== 200) throw new Error(`rotate answered ${res.status}: ${await res.text()}`);
      const kid = ((await res.json()) as { key: { kid: string } }).key.kid;
      acked.push(kid.split('/').pop() ?? '');
    } catch (error) {
      if ((error as Error).message.startsWith('rotate answered')) throw error;
      return acked;
    }
  }
}

describe('broker state under kill -9', () => {
  it('keeps every acknowledged version intact when the broker is killed during rotations', async () => {
    expect(existsSync(fileURLToPath(BUILT)), 'run `npm run build` before this test').toBe(true);
    const setup = await BrokerStore.open(stateDir, pass(), { scryptCost: FAST_SCRYPT });
    const { token } = await addPrincipal(setup, { name: 'alice', role: 'owner' });
    setup.close();
    const first = await startBroker({ stateDir, passphrase: pass(), log: () => {} });
    const v1 = await keyClient(first, token).createOctKey('k');
    const dek = randomBytes(32);
    const reference = (await cryptoClient(first, v1.id ?? '', token).wrapKey('A256KW', dek)).result;
    await first.close();

    const materials = new Map<string, string>();
    for (let round = 0; round < 8; round++) {
      const { child, endpoint } = await startChild();
      const loops = [1, 2, 3].map(() => rotateUntilDead(endpoint, token));
      await new Promise((r) => setTimeout(r, randomInt(50, 400)));
      await killHard(child);
      const acked = (await Promise.all(loops)).flat();

      const store = await BrokerStore.open(stateDir, pass(), { mustExist: true });
      const versions = (await store.read()).keys.k ?? [];
      store.close();
      const names = versions.map((v) => v.version);
      expect(new Set(names).size).toBe(names.length);
      for (const version of acked) expect(names).toContain(version);
      for (const [version, material] of materials) {
        expect(versions.find((v) => v.version === version)?.material).toBe(material);
      }
      for (const v of versions) materials.set(v.version, v.material);
      expect((await readdir(stateDir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    }
    expect(materials.size).toBeGreaterThan(8);

    const last = await startBroker({ stateDir, passphrase: pass(), log: () => {} });
    try {
      const unwrapped = await cryptoClient(
        last,
        `${last.url}/keys/k/${v1.properties.version}`,
        token,
      ).unwrapKey('A256KW', reference);
      expect(Buffer.from(unwrapped.result)).toEqual(dek);
      const rotated = await keyClient(last, token).rotateKey('k');
      const probe = randomBytes(32);
      const crypto = cryptoClient(last, rotated.id ?? '', token);
      expect(
        Buffer.from(
          (await crypto.unwrapKey('A256KW', (await crypto.wrapKey('A256KW', probe)).result)).result,
        ),
      ).toEqual(probe);
    } finally {
      await last.close();
    }
  });
});
