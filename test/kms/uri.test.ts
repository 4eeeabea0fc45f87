import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type KeyProvider, type LocalKeyring, parseLocalUri, providerFor } from '../../src/kms/index.js';
import { dek, newRing, rejectsWith, tempDir } from './helpers.js';

function throwsCode(fn: () => unknown, code: string): string {
  try {
    fn();
  } catch (error) {
    expect((error as { code?: string }).code).toBe(code);
    return (error as Error).message;
  }
  throw new Error(`expected ${code}`);
}

describe('parseLocalUri', () => {
  it('parses a key and a key version', () => {
    expect(parseLocalUri('local:alice')).toEqual({ name: 'alice' });
    expect(parseLocalUri('local:hospital-a.v2_x/12')).toEqual({ name: 'hospital-a.v2_x', version: '12' });
    expect(parseLocalUri(`local:${'a'.repeat(64)}`).name).toHaveLength(64);
  });

  it('refuses other schemes, bad names and bad versions, naming the value', () => {
    const bad = [
      'kms:alice',
      'alice',
      'LOCAL:alice',
      'local:',
      'local:Alice',
      'local:.alice',
      'local:-alice',
      `local:${'a'.repeat(65)}`,
      'local:al ice',
      'local:alice/',
      'local:alice/0',
      'local:alice/01',
      'local:alice/x',
      'local:alice/1/2',
      'local:alice/-1',
    ];
    for (const uri of bad) {
      expect(throwsCode(() => parseLocalUri(uri), 'ERR_KMS_BAD_URI')).toContain(JSON.stringify(uri));
    }
  });
});

describe('key names through LocalKeyring', () => {
  let ring: LocalKeyring;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    const tmp = await tempDir();
    cleanup = tmp.cleanup;
    ring = await newRing(tmp.dir);
  });
  afterEach(async () => {
    ring.close();
    await cleanup();
  });

  it('refuses bad names and versions with ERR_KMS_BAD_URI naming them', async () => {
    for (const name of ['', 'Alice', '_a', 'a/b', 'a:b', 'ä', 'x'.repeat(65), '../etc']) {
      const err = await rejectsWith(ring.create(name), 'ERR_KMS_BAD_URI');
      expect(err.message).toContain(JSON.stringify(name));
    }
    await ring.create('alice');
    await rejectsWith(ring.disableVersion('alice', 'one'), 'ERR_KMS_BAD_URI');
    await rejectsWith(ring.disableVersion('alice', '0'), 'ERR_KMS_BAD_URI');
    await rejectsWith(ring.wrap('kms:alice', dek()), 'ERR_KMS_BAD_URI');
    await rejectsWith(ring.wrap('local:alice/v1', dek()), 'ERR_KMS_BAD_URI');
    const w = await ring.wrap('local:alice', dek());
    await rejectsWith(ring.unwrap({ ...w, uri: 'local:alice/1' }), 'ERR_KMS_BAD_URI');
    await rejectsWith(ring.unwrap({ ...w, uri: 'other:alice' }), 'ERR_KMS_BAD_URI');
    await rejectsWith(ring.unwrap({ ...w, version: 'latest' }), 'ERR_KMS_BAD_URI');
  });
});

describe('providerFor', () => {
  const fake = (scheme: string) => ({ scheme }) as KeyProvider;
  const providers = [fake('local'), fake('azure-kv')];

  it('picks the provider by scheme', () => {
    expect(providerFor('local:alice', providers)).toBe(providers[0]);
    expect(providerFor('azure-kv:vault/key', providers)).toBe(providers[1]);
  });

  it('lists the supported schemes otherwise', () => {
    const message = throwsCode(() => providerFor('gcp:key', providers), 'ERR_KMS_BAD_URI');
    expect(message).toContain('"gcp:key"');
    expect(message).toContain('local:, azure-kv:');
    expect(throwsCode(() => providerFor('alice', providers), 'ERR_KMS_BAD_URI')).toContain('no scheme');
    expect(throwsCode(() => providerFor(':alice', providers), 'ERR_KMS_BAD_URI')).toContain('no scheme');
    expect(throwsCode(() => providerFor('local:alice', []), 'ERR_KMS_BAD_URI')).toContain('none configured');
  });
});
