import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalKeyring } from '../../src/kms/index.js';
import { dek, newRing, pass, rejectsWith, tempDir } from './helpers.js';

interface FileVersion {
  version: string;
  created: string;
  enabled: boolean;
  nonce: string;
  kek: string;
}
interface KeyringJson {
  kdf: Record<string, unknown>;
  keys: Array<{ name: string; versions: FileVersion[] }>;
  [field: string]: unknown;
}

let dir: string;
let ringDir: string;
let file: string;
let cleanup: () => Promise<void>;
let original: string;

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  ringDir = join(dir, 'keyring');
  file = join(ringDir, 'keyring.json');
  const ring = await newRing(dir);
  await ring.create('alice');
  await ring.rotate('alice');
  await ring.create('bob');
  ring.close();
  original = await readFile(file, 'utf8');
});
afterEach(() => cleanup());

async function edit(change: (json: KeyringJson) => void): Promise<void> {
  const json = JSON.parse(original) as KeyringJson;
  change(json);
  await writeFile(file, JSON.stringify(json, null, 2));
}

function version(json: KeyringJson, key: number, index: number): FileVersion {
  const v = json.keys[key]?.versions[index];
  if (!v) throw new Error('no such version in the fixture');
  return v;
}

describe('LocalKeyring wrong passphrase and tampering', () => {
  it('reports a wrong passphrase, saying the file may also have been modified', async () => {
    const err = await rejectsWith(
      LocalKeyring.open(ringDir, pass('not the passphrase')),
      'ERR_KMS_WRONG_PASSPHRASE',
    );
    expect(err.message).toContain('wrong passphrase, or the keyring file was modified');
    expect(err.message).toContain(file);
  });

  it('detects a flipped byte in a KEK ciphertext', async () => {
    await edit((json) => {
      const v = version(json, 0, 1);
      const bytes = Buffer.from(v.kek, 'base64');
      bytes[3] = (bytes[3] ?? 0) ^ 0x80;
      v.kek = bytes.toString('base64');
    });
    await rejectsWith(LocalKeyring.open(ringDir, pass()), 'ERR_KMS_WRONG_PASSPHRASE');
  });

  it('detects an edited enabled flag, created time or kdf salt', async () => {
    await edit((json) => {
      version(json, 0, 0).enabled = false;
    });
    await rejectsWith(LocalKeyring.open(ringDir, pass()), 'ERR_KMS_WRONG_PASSPHRASE');
    await edit((json) => {
      version(json, 1, 0).created = '2000-01-01T00:00:00.000Z';
    });
    await rejectsWith(LocalKeyring.open(ringDir, pass()), 'ERR_KMS_WRONG_PASSPHRASE');
    await edit((json) => {
      json.kdf.salt = Buffer.alloc(16, 1).toString('base64');
    });
    await rejectsWith(LocalKeyring.open(ringDir, pass()), 'ERR_KMS_WRONG_PASSPHRASE');
  });

  it('detects two versions swapped, whole or by their key material', async () => {
    await edit((json) => {
      const a = version(json, 0, 0);
      const b = version(json, 0, 1);
      [a.nonce, b.nonce, a.kek, b.kek] = [b.nonce, a.nonce, b.kek, a.kek];
    });
    await rejectsWith(LocalKeyring.open(ringDir, pass()), 'ERR_KMS_WRONG_PASSPHRASE');
    await edit((json) => {
      const versions = json.keys[0]?.versions ?? [];
      versions.reverse();
    });
    const err = await rejectsWith(LocalKeyring.open(ringDir, pass()), 'ERR_KMS_KEYRING_CORRUPT');
    expect(err.message).toContain('keys[0].versions[0].version');
  });

  it('detects a key renamed or removed, and versions moved between keys', async () => {
    await edit((json) => {
      if (json.keys[1]) json.keys[1].name = 'carol';
    });
    await rejectsWith(LocalKeyring.open(ringDir, pass()), 'ERR_KMS_WRONG_PASSPHRASE');
    await edit((json) => {
      json.keys.pop();
    });
    await rejectsWith(LocalKeyring.open(ringDir, pass()), 'ERR_KMS_WRONG_PASSPHRASE');
    await edit((json) => {
      const bob = version(json, 1, 0);
      const alice = version(json, 0, 0);
      [bob.nonce, bob.kek] = [alice.nonce, alice.kek];
    });
    await rejectsWith(LocalKeyring.open(ringDir, pass()), 'ERR_KMS_WRONG_PASSPHRASE');
  });

  it('notices a file changed under an open keyring', async () => {
    const ring = await LocalKeyring.open(ringDir, pass());
    const w = await ring.wrap('local:alice', dek());
    await edit((json) => {
      version(json, 0, 1).enabled = false;
    });
    await rejectsWith(ring.unwrap(w), 'ERR_KMS_WRONG_PASSPHRASE');
    await rejectsWith(ring.rotate('alice'), 'ERR_KMS_WRONG_PASSPHRASE');
    ring.close();
  });
});

/** Sets (or with `undefined` deletes) the field at a path such as `keys[0].versions[1].nonce`. */
function setField(json: KeyringJson, path: string, value: unknown): void {
  const parts = path.split(/\.|\[(\d+)\]/).filter((p) => p !== undefined && p !== '');
  const last = parts.pop() ?? '';
  let target = json as unknown as Record<string, unknown>;
  for (const part of parts) target = target[part] as Record<string, unknown>;
  if (value === undefined) delete target[last];
  else target[last] = value;
}

describe('LocalKeyring malformed files', () => {
  /** [field, bad value or undefined to delete it]; the error must name that field. */
  const cases: Array<[string, unknown]> = [
    ['format', 'other'],
    ['version', 2],
    ['mac', undefined],
    ['mac', 'AAAA'],
    ['extra', true],
    ['kdf.name', 'argon2id'],
    ['kdf.N', 3000],
    ['kdf.N', 512],
    ['kdf.N', 2 ** 30],
    ['kdf.N', '1024'],
    ['kdf.r', 1000],
    ['kdf.p', 0],
    ['kdf.salt', 'AAAA'],
    ['kdf.salt', 'not base64!'],
    ['keys', {}],
    ['keys[0].name', 'Alice'],
    ['keys[1].name', 'alice'],
    ['keys[1].versions', []],
    ['keys[0].versions[1].nonce', undefined],
    ['keys[0].versions[0].kek', 'AAAA'],
    ['keys[0].versions[0].enabled', 'yes'],
    ['keys[0].versions[0].created', 'yesterday'],
  ];

  for (const [field, value] of cases) {
    it(`names the file and field: ${field} = ${JSON.stringify(value)}`, async () => {
      await edit((json) => setField(json, field, value));
      const err = await rejectsWith(LocalKeyring.open(ringDir, pass()), 'ERR_KMS_KEYRING_CORRUPT');
      expect(err.message).toContain(file);
      expect(err.message).toContain(`field ${field} `);
      expect(err.details).toMatchObject({ path: file, field });
    });
  }

  it('reports malformed or truncated JSON', async () => {
    await writeFile(file, original.slice(0, original.length / 2));
    const err = await rejectsWith(LocalKeyring.open(ringDir, pass()), 'ERR_KMS_KEYRING_CORRUPT');
    expect(err.message).toContain(file);
    await writeFile(file, '');
    await rejectsWith(LocalKeyring.open(ringDir, pass()), 'ERR_KMS_KEYRING_CORRUPT');
    await writeFile(file, '[]');
    await rejectsWith(LocalKeyring.open(ringDir, pass()), 'ERR_KMS_KEYRING_CORRUPT');
  });
});
