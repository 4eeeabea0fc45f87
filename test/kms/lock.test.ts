import { spawnSync } from 'node:child_process';
import { readdir, readFile, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalKeyring } from '../../src/kms/index.js';
import { newRing, pass, rejectsWith, tempDir } from './helpers.js';

let dir: string;
let ringDir: string;
let lock: string;
let cleanup: () => Promise<void>;
let ring: LocalKeyring;

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  ringDir = join(dir, 'keyring');
  lock = join(ringDir, 'keyring.lock');
  ring = await newRing(dir);
  await ring.create('alice');
});
afterEach(async () => {
  ring.close();
  await cleanup();
});

/** The pid of a process that has exited (and been reaped). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

describe('LocalKeyring lock', () => {
  it('refuses to change the keyring while a live process holds the lock, naming the lock', async () => {
    await writeFile(lock, `${process.pid}\n`);
    const before = await readFile(join(ringDir, 'keyring.json'));
    const err = await rejectsWith(ring.rotate('alice'), 'ERR_KMS_KEYRING_LOCKED');
    expect(err.message).toContain(lock);
    expect(err.details).toMatchObject({ path: lock, pid: process.pid });
    expect(await readFile(join(ringDir, 'keyring.json'))).toEqual(before);
    expect(await readFile(lock, 'utf8')).toBe(`${process.pid}\n`);
    expect((await ring.listVersions('alice')).length).toBe(1);
  });

  it('takes over the lock of a process that died', async () => {
    const pid = deadPid();
    await writeFile(lock, `${pid}\n`);
    expect((await ring.rotate('alice')).version).toBe('2');
    expect(await exists(lock)).toBe(false);
  });

  it('takes over an old lock whose holder died before writing its pid', async () => {
    await writeFile(lock, '');
    const past = new Date(Date.now() - 60_000);
    await utimes(lock, past, past);
    expect((await ring.rotate('alice')).version).toBe('2');
    expect(await exists(lock)).toBe(false);
  });

  it('removes its lock after a failed change', async () => {
    await rejectsWith(ring.create('alice'), 'ERR_KMS_KEY_EXISTS');
    expect(await exists(lock)).toBe(false);
  });

  it('removes temp files a killed writer left behind', async () => {
    const leftover = join(ringDir, '.keyring.json.0123456789ab.tmp');
    await writeFile(leftover, '{"partial":');
    await ring.rotate('alice');
    expect(await readdir(ringDir)).toEqual(['keyring.json']);
  });

  it('waits for a live holder that finishes soon', async () => {
    await writeFile(lock, `${process.pid}\n`);
    setTimeout(() => void unlink(lock), 300);
    expect((await ring.rotate('alice')).version).toBe('2');
  });

  it('loses no update when several keyring instances change it at once', async () => {
    await writeFile(lock, `${deadPid()}\n`);
    const rings = await Promise.all([1, 2, 3, 4].map(() => LocalKeyring.open(ringDir, pass())));
    const made = await Promise.all(
      rings.flatMap((r) => [r.rotate('alice'), r.rotate('alice'), r.rotate('alice')]),
    );
    expect(made.map((v) => Number(v.version)).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 12 }, (_, i) => i + 2),
    );
    expect((await ring.listVersions('alice')).length).toBe(13);
    for (const r of rings) r.close();
    expect(await exists(lock)).toBe(false);
  });
});
