import { open, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fromFsError, hasSystemCode, isSealtrainError, SealtrainError } from '../../errors/index.js';
import { writeFileAtomic } from '../../store/index.js';
import { fileMac, macEquals } from './keyring-crypto.js';
import {
  type KeyringDoc,
  MAX_KEYRING_BYTES,
  macInput,
  parseKeyringFile,
  serializeKeyring,
} from './keyring-file.js';
import { keyringNotFound, wrongPassphrase } from './kms-errors.js';

/** File names inside a keyring folder. */
export const KEYRING_FILE = 'keyring.json';
export const LOCK_FILE = 'keyring.lock';

/** A keyring file as read, with a stamp that changes whenever the file is replaced. */
export interface StoredKeyring {
  readonly doc: KeyringDoc;
  readonly mac: Buffer;
  readonly stamp: string;
}

/** Reads and parses `keyring.json`. `ERR_KMS_KEYRING_NOT_FOUND` when absent, `_CORRUPT` when malformed. */
export async function readKeyring(path: string): Promise<StoredKeyring> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (hasSystemCode(error, 'ENOENT') || hasSystemCode(error, 'ENOTDIR')) throw keyringNotFound(path);
    throw fromFsError(error, 'read the keyring', path);
  }
  try {
    const s = await handle.stat({ bigint: true });
    if (s.size > BigInt(MAX_KEYRING_BYTES)) {
      throw new SealtrainError(
        'ERR_KMS_KEYRING_CORRUPT',
        `The keyring file ${path} is corrupt: it is larger than ${MAX_KEYRING_BYTES} bytes.`,
        { details: { path } },
      );
    }
    const text = await handle.readFile('utf8');
    const { doc, mac } = parseKeyringFile(path, text);
    return { doc, mac, stamp: `${s.ino}:${s.size}:${s.mtimeNs}` };
  } catch (error) {
    if (isSealtrainError(error)) throw error;
    throw fromFsError(error, 'read the keyring', path);
  } finally {
    await handle.close();
  }
}

/** Throws `ERR_KMS_WRONG_PASSPHRASE` unless the file MAC verifies under `macKey`. */
export function verifyKeyring(path: string, stored: StoredKeyring, macKey: Uint8Array): void {
  if (!macEquals(fileMac(macKey, macInput(stored.doc)), stored.mac)) throw wrongPassphrase(path);
}

/** Writes `doc` with a fresh MAC atomically (mode 0600). `create` refuses an existing file. */
export async function writeKeyring(
  path: string,
  doc: KeyringDoc,
  macKey: Uint8Array,
  options: { readonly create: boolean },
): Promise<void> {
  const text = serializeKeyring(doc, fileMac(macKey, macInput(doc)));
  await writeFileAtomic(path, text, { overwrite: !options.create, mode: 0o600 });
}

/** Removes temp files left by writers that were killed mid-write. Call only holding the lock. */
export async function removeLeftoverTemps(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  const prefix = `.${KEYRING_FILE}.`;
  for (const name of names) {
    if (name.startsWith(prefix) && name.endsWith('.tmp')) await unlink(join(dir, name)).catch(() => {});
  }
}
