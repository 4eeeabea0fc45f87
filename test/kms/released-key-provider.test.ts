import { constants, createPublicKey, generateKeyPairSync, publicEncrypt, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AZUREKV_WRAP_ALG, ReleasedKeyProvider } from '../../src/kms/index.js';
import { rejectsWith } from '../helpers/rejects.js';

const URI = 'azurekv://127.0.0.1:8443/keys/data-key';

describe('ReleasedKeyProvider', () => {
  it("opens what the vault's RSA-OAEP-256 wrapped for a released version, and wraps for a public key", async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const p = new ReleasedKeyProvider();
    p.addReleased(URI, 'v1', privateKey);
    p.addPublic(URI, 'v1', createPublicKey(privateKey));
    const dek = randomBytes(32);
    // What Key Vault's wrapKey returns: RSA-OAEP with SHA-256 under the key's public part.
    const byVault = publicEncrypt(
      { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      dek,
    );
    expect(
      Buffer.from(
        await p.unwrap({ uri: URI, version: 'v1', alg: AZUREKV_WRAP_ALG, wrapped: byVault }),
      ).equals(dek),
    ).toBe(true);
    const wrapped = await p.wrap(`${URI}/v1`, dek);
    expect(wrapped).toMatchObject({ uri: URI, version: 'v1', alg: AZUREKV_WRAP_ALG });
    expect(Buffer.from(await p.unwrap(wrapped)).equals(dek)).toBe(true);
  });

  it('fails generically for another version, a tampered wrap, another algorithm, and after close', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const p = new ReleasedKeyProvider();
    p.addReleased(URI, 'v1', privateKey);
    p.addPublic(URI, 'v1', createPublicKey(privateKey));
    const w = await p.wrap(URI, randomBytes(32));
    const tampered = Buffer.from(w.wrapped);
    tampered[10] = (tampered[10] ?? 0) ^ 1;
    const cases = [
      { ...w, version: 'v2' },
      { ...w, wrapped: tampered },
      { ...w, alg: 'A256KW' },
    ];
    for (const c of cases) {
      const e = await rejectsWith(p.unwrap(c), 'ERR_KMS_UNWRAP_FAILED');
      expect(e.message).toMatch(/^Cannot unwrap with azurekv:/);
    }
    p.close();
    await rejectsWith(p.unwrap(w), 'ERR_KMS_UNWRAP_FAILED');
    await rejectsWith(p.wrap(URI, randomBytes(32)), 'ERR_KMS_KEY_NOT_FOUND');
    await rejectsWith(p.create(), 'ERR_USAGE_INVALID');
  });
});
