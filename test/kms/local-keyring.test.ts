import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalKeyring } from '../../src/kms/index.js';
import { aesKeyUnwrap, aesKeyWrap } from '../../src/kms/internal/keyring-crypto.js';
import { dek, FAST, newRing, pass, rejectsWith, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
let ring: LocalKeyring;

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  ring = await newRing(dir);
});
afterEach(async () => {
  ring.close();
  await cleanup();
});

describe('LocalKeyring init and open', () => {
  it('opens what init created, with the same keys', async () => {
    await ring.create('alice');
    const w = await ring.wrap('local:alice', dek());
    const again = await LocalKeyring.open(join(dir, 'keyring'), pass());
    expect(Buffer.from(await again.unwrap(w))).toEqual(dek());
    expect(await again.list()).toEqual(await ring.list());
    again.close();
  });

  it('refuses to init over an existing keyring and leaves it alone', async () => {
    const before = await readFile(join(dir, 'keyring', 'keyring.json'));
    const err = await rejectsWith(
      LocalKeyring.init(join(dir, 'keyring'), pass('other'), FAST),
      'ERR_KMS_KEYRING_EXISTS',
    );
    expect(err.message).toContain(join(dir, 'keyring', 'keyring.json'));
    expect(await readFile(join(dir, 'keyring', 'keyring.json'))).toEqual(before);
  });

  it('names the missing keyring and says to run sealtrain keys init', async () => {
    const err = await rejectsWith(
      LocalKeyring.open(join(dir, 'nowhere'), pass()),
      'ERR_KMS_KEYRING_NOT_FOUND',
    );
    expect(err.message).toContain(join(dir, 'nowhere', 'keyring.json'));
    expect(err.message).toContain('sealtrain keys init');
  });

  it('writes the keyring with mode 0600 in a 0700 folder', async () => {
    await ring.create('alice');
    await ring.rotate('alice');
    expect((await stat(join(dir, 'keyring', 'keyring.json'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'keyring'))).mode & 0o777).toBe(0o700);
  });

  it('stores the scrypt parameters, 2^17 by default', async () => {
    const file = JSON.parse(await readFile(join(dir, 'keyring', 'keyring.json'), 'utf8'));
    expect(file.kdf).toMatchObject({ name: 'scrypt', N: 1024, r: 8, p: 1 });
    expect(Buffer.from(file.kdf.salt, 'base64')).toHaveLength(16);
    const slow = await LocalKeyring.init(join(dir, 'default'), pass());
    slow.close();
    const stored = JSON.parse(await readFile(join(dir, 'default', 'keyring.json'), 'utf8'));
    expect(stored.kdf.N).toBe(2 ** 17);
  });

  it('refuses an empty passphrase and a scrypt cost out of bounds', async () => {
    await rejectsWith(
      LocalKeyring.init(join(dir, 'x'), Buffer.alloc(0), FAST),
      'ERR_KMS_PASSPHRASE_REQUIRED',
    );
    await rejectsWith(
      LocalKeyring.open(join(dir, 'keyring'), Buffer.alloc(0)),
      'ERR_KMS_PASSPHRASE_REQUIRED',
    );
    for (const scryptCost of [1000, 512, 2 ** 23]) {
      await rejectsWith(LocalKeyring.init(join(dir, 'x'), pass(), { scryptCost }), 'ERR_USAGE_INVALID');
    }
  });

  it('fails after close', async () => {
    await ring.create('alice');
    ring.close();
    ring.close();
    await rejectsWith(ring.wrap('local:alice', dek()), 'ERR_INTERNAL');
    await rejectsWith(ring.rotate('alice'), 'ERR_INTERNAL');
  });
});

describe('LocalKeyring keys', () => {
  it('creates, rotates, lists and disables versions', async () => {
    const v1 = await ring.create('alice');
    expect(v1).toMatchObject({ uri: 'local:alice', name: 'alice', version: '1', enabled: true });
    expect(Number.isNaN(Date.parse(v1.created))).toBe(false);
    await ring.create('bob');
    expect((await ring.rotate('alice')).version).toBe('2');
    expect((await ring.rotate('alice')).version).toBe('3');
    expect((await ring.list()).map((v) => `${v.uri}/${v.version}`)).toEqual(['local:alice/3', 'local:bob/1']);
    expect((await ring.listVersions('alice')).map((v) => v.version)).toEqual(['1', '2', '3']);
    const off = await ring.disableVersion('alice', '2');
    expect(off).toMatchObject({ version: '2', enabled: false });
    expect(await ring.disableVersion('alice', '2')).toMatchObject({ version: '2', enabled: false });
    expect((await ring.listVersions('alice')).map((v) => v.enabled)).toEqual([true, false, true]);
  });

  it('refuses duplicates and unknown keys or versions, pointing at keys list', async () => {
    await ring.create('alice');
    await rejectsWith(ring.create('alice'), 'ERR_KMS_KEY_EXISTS');
    const missing = await rejectsWith(ring.rotate('carol'), 'ERR_KMS_KEY_NOT_FOUND');
    expect(missing.message).toContain('local:carol');
    expect(missing.message).toContain('sealtrain keys list');
    await rejectsWith(ring.listVersions('carol'), 'ERR_KMS_KEY_NOT_FOUND');
    await rejectsWith(ring.wrap('local:carol', dek()), 'ERR_KMS_KEY_NOT_FOUND');
    const noVersion = await rejectsWith(ring.disableVersion('alice', '7'), 'ERR_KMS_VERSION_NOT_FOUND');
    expect(noVersion.message).toContain('7');
    expect(noVersion.message).toContain('sealtrain keys list alice');
    await rejectsWith(ring.wrap('local:alice/2', dek()), 'ERR_KMS_VERSION_NOT_FOUND');
    await rejectsWith(
      ring.unwrap({ uri: 'local:alice', version: '9', alg: 'A256KW', wrapped: dek() }),
      'ERR_KMS_VERSION_NOT_FOUND',
    );
  });

  it('serialises concurrent changes through one instance', async () => {
    await ring.create('alice');
    const made = await Promise.all([1, 2, 3, 4, 5].map(() => ring.rotate('alice')));
    expect(made.map((v) => v.version).sort()).toEqual(['2', '3', '4', '5', '6']);
  });

  it('sees changes made through another instance', async () => {
    await ring.create('alice');
    const other = await LocalKeyring.open(join(dir, 'keyring'), pass());
    await other.rotate('alice');
    expect((await ring.wrap('local:alice', dek())).version).toBe('2');
    await other.disableVersion('alice', '1');
    await rejectsWith(ring.wrap('local:alice/1', dek()), 'ERR_KMS_KEY_DISABLED');
    other.close();
  });
});

describe('LocalKeyring wrap and unwrap', () => {
  it('wraps with the newest version and keeps unwrapping old ones after rotate', async () => {
    await ring.create('alice');
    const old = await ring.wrap('local:alice', dek(1));
    expect(old).toMatchObject({ uri: 'local:alice', version: '1', alg: 'A256KW' });
    expect(old.wrapped).toHaveLength(40);
    await ring.rotate('alice');
    const fresh = await ring.wrap('local:alice', dek(2));
    expect(fresh.version).toBe('2');
    expect(Buffer.from(await ring.unwrap(old))).toEqual(dek(1));
    expect(Buffer.from(await ring.unwrap(fresh))).toEqual(dek(2));
    const pinned = await ring.wrap('local:alice/1', dek(3));
    expect(pinned.version).toBe('1');
    expect(Buffer.from(await ring.unwrap(pinned))).toEqual(dek(3));
  });

  it('refuses a disabled version for wrap and unwrap, and skips it for the newest', async () => {
    await ring.create('alice');
    const w1 = await ring.wrap('local:alice', dek());
    await ring.rotate('alice');
    await ring.disableVersion('alice', '2');
    expect((await ring.wrap('local:alice', dek())).version).toBe('1');
    await rejectsWith(ring.wrap('local:alice/2', dek()), 'ERR_KMS_KEY_DISABLED');
    await ring.disableVersion('alice', '1');
    const err = await rejectsWith(ring.unwrap(w1), 'ERR_KMS_KEY_DISABLED');
    expect(err.message).toContain('local:alice version 1');
    await rejectsWith(ring.wrap('local:alice', dek()), 'ERR_KMS_KEY_DISABLED');
  });

  it('fails generically with another keyring holding a key of the same name', async () => {
    await ring.create('alice');
    await ring.rotate('alice');
    const other = await newRing(join(dir, 'other'));
    await other.create('alice');
    await other.rotate('alice');
    const w = await other.wrap('local:alice', dek());
    const err = await rejectsWith(ring.unwrap(w), 'ERR_KMS_UNWRAP_FAILED');
    expect(err.message).toBe(
      'Cannot unwrap the data key with local:alice version 2: the key does not match.',
    );
    other.close();
  });

  it('fails generically for tampered, truncated or relabelled wrapped keys', async () => {
    await ring.create('alice');
    await ring.rotate('alice');
    const w = await ring.wrap('local:alice/1', dek());
    for (let i = 0; i < w.wrapped.length; i += 7) {
      const bytes = Buffer.from(w.wrapped);
      bytes[i] = (bytes[i] ?? 0) ^ 0x01;
      await rejectsWith(ring.unwrap({ ...w, wrapped: bytes }), 'ERR_KMS_UNWRAP_FAILED');
    }
    await rejectsWith(ring.unwrap({ ...w, wrapped: w.wrapped.subarray(0, 32) }), 'ERR_KMS_UNWRAP_FAILED');
    await rejectsWith(ring.unwrap({ ...w, wrapped: Buffer.alloc(0) }), 'ERR_KMS_UNWRAP_FAILED');
    await rejectsWith(ring.unwrap({ ...w, version: '2' }), 'ERR_KMS_UNWRAP_FAILED');
    await rejectsWith(ring.unwrap({ ...w, alg: 'A128KW' }), 'ERR_KMS_UNWRAP_FAILED');
  });

  it('refuses data keys RFC 3394 cannot wrap', async () => {
    await ring.create('alice');
    await rejectsWith(ring.wrap('local:alice', Buffer.alloc(15)), 'ERR_INTERNAL');
    await rejectsWith(ring.wrap('local:alice', Buffer.alloc(33)), 'ERR_INTERNAL');
  });

  it('A256KW matches RFC 3394 section 4.6', () => {
    const kek = Buffer.from('000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F', 'hex');
    const key = Buffer.from('00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F', 'hex');
    const expected = '28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21';
    expect(aesKeyWrap(kek, key).toString('hex').toUpperCase()).toBe(expected);
    expect(aesKeyUnwrap(kek, Buffer.from(expected, 'hex'))).toEqual(key);
  });
});
