import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSealtrainError } from '../../src/errors/index.js';
import { LocalKeyring, readPassphrase, type WrappedKey } from '../../src/kms/index.js';
import { deriveKeys, openKek, type ScryptParams } from '../../src/kms/internal/keyring-crypto.js';
import { dek, newRing, PASSPHRASE, pass, tempDir } from './helpers.js';

let dir: string;
let ringDir: string;
let cleanup: () => Promise<void>;
let ring: LocalKeyring;
let other: LocalKeyring;
let wrapped: WrappedKey;
/** Every secret a test could leak, in the encodings an error might show. */
const secrets: string[] = [];

function encodings(bytes: Buffer): string[] {
  return [
    bytes.toString('hex'),
    bytes.toString('hex').toUpperCase(),
    bytes.toString('base64'),
    bytes.toString('base64url'),
  ];
}

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  ringDir = join(dir, 'keyring');
  ring = await newRing(dir);
  await ring.create('alice');
  await ring.rotate('alice');
  other = await newRing(join(dir, 'other'));
  await other.create('alice');
  wrapped = await other.wrap('local:alice', dek(0x3c));
  // Recover the real key material from the file, to look for it in every error.
  const json = JSON.parse(await readFile(join(ringDir, 'keyring.json'), 'utf8'));
  const kdf: ScryptParams = { ...json.kdf, salt: Buffer.from(json.kdf.salt, 'base64') };
  const keys = await deriveKeys(pass(), kdf);
  secrets.push(PASSPHRASE, ...encodings(keys.enc), ...encodings(keys.mac), ...encodings(dek(0x3c)));
  for (const v of json.keys[0].versions) {
    const kek = openKek(
      keys.enc,
      'alice',
      v.version,
      Buffer.from(v.nonce, 'base64'),
      Buffer.from(v.kek, 'base64'),
    );
    if (!kek) throw new Error('fixture KEK does not decrypt');
    secrets.push(...encodings(kek));
  }
});
afterAll(async () => {
  ring.close();
  other.close();
  await cleanup();
});

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

describe('no secret material in errors or in the file', () => {
  it('keeps key material and passphrases out of every error message and JSON', async () => {
    const passFile = join(dir, 'pass.txt');
    await writeFile(passFile, '');
    const errors = [
      await failure(ring.unwrap(wrapped)),
      await failure(ring.unwrap({ ...wrapped, wrapped: Buffer.alloc(40, 1) })),
      await failure(ring.unwrap({ ...wrapped, version: '9' })),
      await failure(ring.wrap('local:alice', Buffer.alloc(31))),
      await failure(ring.create('alice')),
      await failure(LocalKeyring.open(ringDir, pass(`${PASSPHRASE}x`))),
      await failure(LocalKeyring.init(ringDir, pass())),
      await failure(readPassphrase({ file: passFile })),
    ];
    await ring.disableVersion('alice', '1');
    errors.push(await failure(ring.unwrap({ ...(await ring.wrap('local:alice', dek(0x3c))), version: '1' })));
    for (const error of errors) {
      expect(isSealtrainError(error), String(error)).toBe(true);
      const text = `${(error as Error).message}\n${JSON.stringify(error)}\n${(error as Error).stack}`;
      for (const secret of secrets) expect(text).not.toContain(secret);
    }
  });

  it('keeps KEKs out of the keyring file in clear', async () => {
    const text = await readFile(join(ringDir, 'keyring.json'), 'utf8');
    for (const secret of secrets.slice(1)) expect(text).not.toContain(secret);
    expect(text).not.toContain(PASSPHRASE);
  });
});
