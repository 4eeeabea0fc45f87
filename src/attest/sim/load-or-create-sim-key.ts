import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromFsError, hasSystemCode, isSealtrainError, SealtrainError } from '../../errors/index.js';
import { writeFileAtomic } from '../../store/index.js';

/** Where the `sim` key lives, relative to the sealtrain home folder. */
export const SIM_KEY_PATH = join('attest', 'sim-key.pem');

/** The `sim` signing key pair. */
export interface SimKeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

function parseKey(pem: string, path: string): SimKeyPair {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch (cause) {
    throw new SealtrainError(
      'ERR_ATTEST_MALFORMED',
      `${path} is not a PEM private key; remove it to make a new one.`,
      {
        cause,
        details: { path },
      },
    );
  }
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new SealtrainError(
      'ERR_ATTEST_MALFORMED',
      `${path} holds a ${privateKey.asymmetricKeyType ?? 'unknown'} key, not Ed25519; remove it to make a new one.`,
      { details: { path } },
    );
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

async function readKey(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (hasSystemCode(error, 'ENOENT')) return undefined;
    throw fromFsError(error, 'read the sim key', path);
  }
}

/**
 * The Ed25519 key that signs simulated evidence, at `<home>/attest/sim-key.pem` (PKCS#8 PEM). Made
 * on first use, mode 0600, with an atomic write; reused after. When two processes race, the first
 * write wins and both use it. A file that is not an Ed25519 private key is refused with
 * `ERR_ATTEST_MALFORMED` naming it. Development only: this key proves nothing about hardware.
 */
export async function loadOrCreateSimKey(home: string): Promise<SimKeyPair> {
  const path = join(home, SIM_KEY_PATH);
  const existing = await readKey(path);
  if (existing !== undefined) return parseKey(existing, path);
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' });
  try {
    await mkdir(join(home, 'attest'), { recursive: true, mode: 0o700 });
    await writeFileAtomic(path, pem, { mode: 0o600 });
  } catch (error) {
    if (!isSealtrainError(error, 'ERR_IO_EXISTS')) throw fromFsError(error, 'write the sim key', path);
    return parseKey((await readKey(path)) ?? '', path);
  }
  return { privateKey, publicKey: createPublicKey(privateKey) };
}
