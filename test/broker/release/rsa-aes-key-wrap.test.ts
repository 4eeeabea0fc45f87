import {
  constants,
  createCipheriv,
  createDecipheriv,
  generateKeyPairSync,
  privateDecrypt,
} from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { rsaAesKeyUnwrap, rsaAesKeyWrap } from '../../../src/broker/release/index.js';
import { isSealtrainError } from '../../../src/errors/index.js';
import { runtimeKey } from '../attestation/fixtures.js';

const transfer = Buffer.alloc(32, 0x11);
const material = Buffer.from('a secret key of 26 bytes!!');
const fixed = () => Buffer.from(transfer);

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (error) {
    if (isSealtrainError(error)) return error.code;
    throw error;
  }
  return undefined;
}

describe('AES key wrap with padding (RFC 5649) as node:crypto provides it', () => {
  // RFC 5649 §6: 192-bit KEK, 20- and 7-octet keys. The same AIV drives id-aes256-wrap-pad.
  const kek = Buffer.from('5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8', 'hex');
  const aiv = Buffer.from('a65959a6', 'hex');
  const vectors = [
    [
      'c37b7e6492584340bed12207808941155068f738',
      '138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a',
    ],
    ['466f7250617369', 'afbeb0f07dfbf5419200f2ccb50bb24f'],
  ];
  it.each(vectors)('wraps %s to the RFC answer and back', (key, wrapped) => {
    const c = createCipheriv('id-aes192-wrap-pad', kek, aiv);
    expect(Buffer.concat([c.update(Buffer.from(key, 'hex')), c.final()]).toString('hex')).toBe(wrapped);
    const d = createDecipheriv('id-aes192-wrap-pad', kek, aiv);
    expect(Buffer.concat([d.update(Buffer.from(wrapped, 'hex')), d.final()]).toString('hex')).toBe(key);
  });
});

describe('rsaAesKeyWrap', () => {
  it('is RSA-OAEP(transfer key) then RFC 5649 of the material, with SHA-1 for CKM_RSA_AES_KEY_WRAP', () => {
    const out = rsaAesKeyWrap(material, runtimeKey.publicKey, { random: fixed });
    expect(out).toHaveLength(256 + 32 + 8);
    const oaep = (oaepHash: string) =>
      privateDecrypt(
        { key: runtimeKey.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash },
        out.subarray(0, 256),
      );
    expect(oaep('sha1')).toEqual(transfer);
    expect(() => oaep('sha256')).toThrow();
    const kwp = createDecipheriv('id-aes256-wrap-pad', transfer, Buffer.from('a65959a6', 'hex'));
    expect(Buffer.concat([kwp.update(out.subarray(256)), kwp.final()])).toEqual(material);
  });

  it('uses SHA-256 for RSA_AES_KEY_WRAP_256 and SHA-384 for RSA_AES_KEY_WRAP_384', () => {
    for (const [enc, oaepHash] of [
      ['RSA_AES_KEY_WRAP_256', 'sha256'],
      ['RSA_AES_KEY_WRAP_384', 'sha384'],
    ] as const) {
      const out = rsaAesKeyWrap(material, runtimeKey.publicKey, { enc, random: fixed });
      const key = privateDecrypt(
        { key: runtimeKey.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash },
        out.subarray(0, 256),
      );
      expect(key).toEqual(transfer);
      expect(rsaAesKeyUnwrap(out, runtimeKey.privateKey, { enc })).toEqual(material);
      expect(code(() => rsaAesKeyUnwrap(out, runtimeKey.privateKey))).toBe('ERR_KMS_UNWRAP_FAILED');
    }
  });

  it('uses a fresh transfer key each time', () => {
    const a = rsaAesKeyWrap(material, runtimeKey.publicKey);
    const b = rsaAesKeyWrap(material, runtimeKey.publicKey);
    expect(a.subarray(256)).not.toEqual(b.subarray(256));
  });

  it('fails generically for a flipped bit, a truncation, an extension and a wrong key', () => {
    const out = rsaAesKeyWrap(material, runtimeKey.publicKey);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const flipped = (i: number) => {
      const copy = Buffer.from(out);
      copy[i] = (copy[i] ?? 0) ^ 1;
      return copy;
    };
    for (const bad of [
      flipped(10),
      flipped(260),
      flipped(out.length - 1),
      out.subarray(0, out.length - 8),
      Buffer.concat([out, Buffer.alloc(8)]),
      out.subarray(0, 100),
    ])
      expect(code(() => rsaAesKeyUnwrap(bad, runtimeKey.privateKey))).toBe('ERR_KMS_UNWRAP_FAILED');
    expect(code(() => rsaAesKeyUnwrap(out, other))).toBe('ERR_KMS_UNWRAP_FAILED');
  });

  it('refuses empty or oversized material', () => {
    expect(code(() => rsaAesKeyWrap(Buffer.alloc(0), runtimeKey.publicKey))).toBe('ERR_USAGE_INVALID');
    expect(code(() => rsaAesKeyWrap(Buffer.alloc(16 * 1024 + 1), runtimeKey.publicKey))).toBe(
      'ERR_USAGE_INVALID',
    );
  });
});
