import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { hasSystemCode, SealtrainError } from '../../errors/index.js';
import { writeFileAtomic } from '../../store/index.js';
import { keyIdOf } from '../signed-head.js';
import type { AuditPaths } from './log-files.js';

/** The audit folder's key pair. */
export interface SigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly publicKeyPem: string;
  readonly keyId: string;
}

/** `path` names the key file; without it the error is about the public key the caller pinned. */
function keyError(path: string | undefined, why: string, cause?: unknown): SealtrainError {
  const subject = path === undefined ? 'The pinned audit public key' : `The audit key file ${path}`;
  return new SealtrainError('ERR_AUDIT_SIGNING_KEY', `${subject} ${why}.`, {
    details: path === undefined ? {} : { path },
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Reads `path`, or `undefined` when it does not exist; other errors name the file. */
async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (hasSystemCode(error, 'ENOENT')) return undefined;
    throw keyError(path, 'cannot be read', error);
  }
}

/** Parses an Ed25519 public key (PEM); `path` names its file in errors, if it has one. */
export function parsePublicKeyPem(pem: string, path?: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (error) {
    throw keyError(path, 'is not a PEM public key', error);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw keyError(path, 'is not an Ed25519 key');
  return key;
}

function parsePrivateKey(pem: string, path: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    throw keyError(path, 'is not a PEM private key', error);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw keyError(path, 'is not an Ed25519 key');
  return key;
}

function spkiPem(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

async function hasHeads(paths: AuditPaths): Promise<boolean> {
  return stat(paths.heads).then(
    (info) => info.size > 0,
    () => false,
  );
}

async function create(paths: AuditPaths): Promise<string> {
  if ((await readIfPresent(paths.pub)) !== undefined || (await hasHeads(paths))) {
    throw keyError(
      paths.key,
      `is missing but ${paths.pub} or signed heads exist; restore it, or move ${paths.dir} aside to start a new log`,
    );
  }
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  await writeFileAtomic(paths.key, pem, { mode: 0o600 });
  return pem;
}

/**
 * Loads the folder's Ed25519 key pair, creating it (private key mode 0600) when neither key nor
 * heads exist. Call with the lock held. A missing public key is re-derived from the private one.
 *
 * @throws {SealtrainError} `ERR_AUDIT_SIGNING_KEY` naming the file when a key is unreadable,
 *   malformed, not Ed25519, missing while heads exist, or the two keys do not match.
 */
export async function loadOrCreateSigningKey(paths: AuditPaths): Promise<SigningKey> {
  const pem = (await readIfPresent(paths.key)) ?? (await create(paths));
  const privateKey = parsePrivateKey(pem, paths.key);
  const publicKey = createPublicKey(privateKey);
  const publicKeyPem = spkiPem(publicKey);
  const stored = await readIfPresent(paths.pub);
  if (stored === undefined) {
    await writeFileAtomic(paths.pub, publicKeyPem, { mode: 0o644 });
  } else if (spkiPem(parsePublicKeyPem(stored, paths.pub)) !== publicKeyPem) {
    throw keyError(paths.pub, `does not match ${paths.key}`);
  }
  return { privateKey, publicKey, publicKeyPem, keyId: keyIdOf(publicKey) };
}

/** Reads and parses the public key file at `path`. */
export async function readPublicKey(path: string): Promise<KeyObject> {
  const pem = await readIfPresent(path);
  if (pem === undefined) throw keyError(path, 'does not exist; pass the public key to pin it');
  return parsePublicKeyPem(pem, path);
}
