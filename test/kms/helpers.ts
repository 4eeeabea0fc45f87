import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalKeyring } from '../../src/kms/index.js';

/** scrypt cost for tests: the smallest the keyring accepts. */
export const FAST = { scryptCost: 1024 } as const;

/** The passphrase the tests use. */
export const PASSPHRASE = 'tangerine-octopus-ledger-97';

/** A fresh copy of the test passphrase (keyring calls never keep it; the test may wipe it). */
export function pass(value = PASSPHRASE): Buffer {
  return Buffer.from(value);
}

/** A temp folder, removed by `cleanup`. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'sealtrain-kms-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A new keyring in `<parent>/keyring`. */
export async function newRing(parent: string, value = PASSPHRASE): Promise<LocalKeyring> {
  return LocalKeyring.init(join(parent, 'keyring'), pass(value), FAST);
}

export { rejectsWith } from '../helpers/rejects.js';

/** A 32-byte data key whose bytes are easy to look for. */
export function dek(fill = 0x5a): Buffer {
  return Buffer.alloc(32, fill);
}
