// MAA's AzureGuest answer is the token encrypted to the vTPM key: what opens it, and what does not
// (tampered bytes, a cut tag, a wrong nonce size, not JSON, a key that does not open it); and the
// TPM2B_PUBLIC reader the certification check stands on, with malformed inputs named by field.

import { createCipheriv, createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  openAzureGuestToken,
  parseTpmRsaPublic,
  TPMA_OBJECT,
  type VtpmEncryptionKey,
} from '../../../src/attest/azure-cvm/index.js';
import { SealtrainError } from '../../../src/errors/index.js';

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL21hYS5leGFtcGxlIn0.c2ln';

/** A stand-in for the vTPM key: "unwraps" to a fixed transport key, or refuses as the TPM would. */
function keyOpening(transport: Buffer | undefined): VtpmEncryptionKey {
  return {
    publicKey: generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey,
    oaepDecrypt: async () => Buffer.alloc(0),
    rsaesDecrypt: async () => {
      if (!transport)
        throw new SealtrainError(
          'ERR_ATTEST_COLLECT_FAILED',
          'tpm2_rsadecrypt failed: value is out of range',
        );
      return Buffer.from(transport);
    },
    close: async () => {},
  };
}

function envelope(
  transport: Buffer,
  edit: (e: Record<string, unknown>) => Record<string, unknown> = (e) => e,
) {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', transport, iv).setAAD(Buffer.from('Transport Key'));
  const sealed = Buffer.concat([cipher.update(JWT), cipher.final()]);
  const e = {
    Jwt: sealed.toString('base64'),
    EncryptedInnerKey: randomBytes(256).toString('base64'),
    EncryptionParams: {
      Cipher: 'AES',
      BlockMode: 'ChainingModeGCM',
      KeySizeInBits: 256,
      Iv: iv.toString('base64'),
    },
    AuthenticationData: cipher.getAuthTag().toString('base64'),
  };
  return Buffer.from(JSON.stringify(edit(e))).toString('base64url');
}

describe('openAzureGuestToken', () => {
  const transport = randomBytes(32);

  it('opens the JWT with the transport key the vTPM unwraps, and wipes that key', async () => {
    const copy = Buffer.from(transport);
    let given: Buffer | undefined;
    const key = {
      ...keyOpening(copy),
      rsaesDecrypt: async () => {
        given = Buffer.from(copy);
        return given;
      },
    };
    expect(await openAzureGuestToken(envelope(transport), key)).toBe(JWT);
    expect(given?.equals(Buffer.alloc(32))).toBe(true);
  });

  it('refuses tampered ciphertext, another tag, or associated data other than "Transport Key"', async () => {
    const flip = (b64: unknown) => {
      const b = Buffer.from(String(b64), 'base64');
      b[0] = (b[0] ?? 0) ^ 1;
      return b.toString('base64');
    };
    for (const edit of [
      (e: Record<string, unknown>) => ({ ...e, Jwt: flip(e.Jwt) }),
      (e: Record<string, unknown>) => ({ ...e, AuthenticationData: flip(e.AuthenticationData) }),
    ])
      await expect(
        openAzureGuestToken(envelope(transport, edit), keyOpening(transport)),
      ).rejects.toMatchObject({
        code: 'ERR_ATTEST_REJECTED',
        message: expect.stringContaining('does not authenticate'),
      });
    const other = randomBytes(32);
    await expect(openAzureGuestToken(envelope(transport), keyOpening(other))).rejects.toMatchObject({
      code: 'ERR_ATTEST_REJECTED',
    });
  });

  it('names what the vTPM said when the inner key does not open', async () => {
    const e = await openAzureGuestToken(envelope(transport), keyOpening(undefined)).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'ERR_ATTEST_REJECTED', details: { field: 'EncryptedInnerKey' } });
    expect(String((e as Error).message)).toContain('value is out of range');
  });

  it('names the field of a malformed answer', async () => {
    const cases: [string, string][] = [
      [Buffer.from('null').toString('base64url'), 'token'],
      ['not base64 json', 'token'],
      [envelope(transport, ({ Jwt: _, ...e }) => e), 'Jwt'],
      [
        envelope(transport, (e) => ({ ...e, EncryptionParams: { Iv: randomBytes(16).toString('base64') } })),
        'EncryptionParams.Iv',
      ],
      [
        envelope(transport, (e) => ({ ...e, AuthenticationData: randomBytes(8).toString('base64') })),
        'AuthenticationData',
      ],
    ];
    for (const [token, field] of cases)
      await expect(openAzureGuestToken(token, keyOpening(transport))).rejects.toMatchObject({
        code: 'ERR_ATTEST_MALFORMED',
        details: { field },
      });
  });
});

/** An RSA-2048 TPM2B_PUBLIC as tpm2_readpublic writes it: decrypt key, SHA-256 name, policy. */
function tpm2bPublic(o: { type?: number; keyBitsSays?: number; trailing?: boolean } = {}) {
  const n = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }).n ?? '';
  const modulus = Buffer.from(n, 'base64url');
  const u16 = (v: number) => Buffer.from([v >> 8, v & 0xff]);
  const u32 = (v: number) => Buffer.from([v >>> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff]);
  const policy = randomBytes(32);
  const area = Buffer.concat([
    u16(o.type ?? 0x0001),
    u16(0x000b),
    u32(TPMA_OBJECT.decrypt | TPMA_OBJECT.fixedTPM),
    u16(policy.length),
    policy,
    u16(0x0010), // symmetric NULL
    u16(0x0010), // scheme NULL
    u16(o.keyBitsSays ?? 2048),
    u32(0),
    u16(modulus.length),
    modulus,
  ]);
  return {
    bytes: Buffer.concat([u16(area.length), area, o.trailing ? Buffer.alloc(1) : Buffer.alloc(0)]),
    area,
    n,
    policy,
  };
}

describe('parseTpmRsaPublic', () => {
  it('reads the key, attributes and policy, and the Name a certification names', () => {
    const { bytes, area, n, policy } = tpm2bPublic();
    const parsed = parseTpmRsaPublic(bytes);
    expect(parsed.publicKey.export({ format: 'jwk' })).toMatchObject({ n, e: 'AQAB' });
    expect(parsed.attributes & TPMA_OBJECT.decrypt).toBeTruthy();
    expect(parsed.authPolicy.equals(policy)).toBe(true);
    expect(
      parsed.name.equals(Buffer.concat([Buffer.from([0, 0x0b]), createHash('sha256').update(area).digest()])),
    ).toBe(true);
  });

  it('names the field of a malformed public area', () => {
    for (const [bytes, field] of [
      [tpm2bPublic({ type: 0x0023 }).bytes, 'EncKeyPub.type'],
      [tpm2bPublic({ keyBitsSays: 3072 }).bytes, 'EncKeyPub.unique'],
      [tpm2bPublic({ trailing: true }).bytes, 'EncKeyPub'],
      [tpm2bPublic().bytes.subarray(0, 40), 'EncKeyPub.publicArea'],
    ] as const) {
      let e: unknown;
      try {
        parseTpmRsaPublic(bytes, 'EncKeyPub');
      } catch (x) {
        e = x;
      }
      expect(e).toMatchObject({ code: 'ERR_ATTEST_MALFORMED', details: { field } });
    }
  });
});
