// The release wrapping for an EC runtime key is the standard compact JWE (ECDH-ES, A256GCM), made
// and opened with node:crypto so that the shared secret and the content-encryption key are wiped:
// it interoperates with jose both ways, refuses what it must not open, and leaves no secret behind.

import * as crypto from 'node:crypto';
import { CompactEncrypt, compactDecrypt } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ecdhEsUnwrap, ecdhEsWrap } from '../../../src/broker/release/index.js';
import { respelt } from '../../helpers/respelt.js';
import { rejection } from '../attestation/fixtures.js';
import { dataKey } from './fixtures.js';

// Every buffer that held the ECDH shared secret (itself, or the KDF's input), a content-encryption
// key or an unauthenticated plaintext, as the module under test saw it.
const secrets: Buffer[] = [];
const agreements = { count: 0 };
vi.mock('node:crypto', async (original) => {
  const real = await original<typeof import('node:crypto')>();
  const keep = <T extends Buffer>(b: T): T => {
    secrets.push(b);
    return b;
  };
  return {
    ...real,
    generateKeyPair: vi.fn(real.generateKeyPair),
    generateKeyPairSync: vi.fn(real.generateKeyPairSync),
    // Counted before the real call: a key agreement that OpenSSL refuses still counts.
    diffieHellman: (o: Parameters<typeof real.diffieHellman>[0]) => {
      agreements.count++;
      return keep(real.diffieHellman(o));
    },
    // The Concat KDF's input holds the shared secret.
    hash: (alg: string, data: Buffer, encoding: 'buffer') => real.hash(alg, keep(data), encoding),
    createHash: (alg: string) => {
      const h = real.createHash(alg);
      const update = h.update.bind(h) as (data: Buffer) => crypto.Hash;
      return Object.assign(h, { update: (data: Buffer) => update(keep(data)) });
    },
    createCipheriv: (alg: string, key: Buffer, iv: Buffer, o: crypto.CipherGCMOptions) =>
      real.createCipheriv(alg as crypto.CipherGCMTypes, keep(key), iv, o),
    createDecipheriv: (alg: string, key: Buffer, iv: Buffer, o: crypto.CipherGCMOptions) => {
      const d = real.createDecipheriv(alg as crypto.CipherGCMTypes, keep(key), iv, o);
      const update = d.update.bind(d) as (data: Buffer) => Buffer;
      return Object.assign(d, { update: (data: Buffer) => keep(update(data)) });
    },
  };
});

afterEach(() => {
  secrets.length = 0;
  agreements.count = 0;
});

const curves = ['P-256', 'P-384'] as const;
const pair = (crv: (typeof curves)[number]) =>
  crypto.generateKeyPairSync('ec', { namedCurve: crv === 'P-256' ? 'prime256v1' : 'secp384r1' });
const material = Buffer.from(dataKey);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const isZero = (b: Buffer) => b.every((x) => x === 0);

/** A compact JWE of ours with its protected header replaced (the rest kept as it was). */
async function withHeader(edit: (h: Record<string, unknown>) => void, key: crypto.KeyObject) {
  const parts = (await ecdhEsWrap(material, key, 'runtime')).toString('utf8').split('.');
  const header = JSON.parse(Buffer.from(parts[0] as string, 'base64url').toString('utf8'));
  edit(header);
  return Buffer.from([b64(header), ...parts.slice(1)].join('.'));
}

describe('ECDH-ES with A256GCM, as a standard JWE', () => {
  for (const crv of curves)
    it(`wraps what jose opens, and opens what jose wraps, on ${crv} (party infos included)`, async () => {
      const { publicKey, privateKey } = pair(crv);
      const ours = await ecdhEsWrap(material, publicKey, 'runtime');
      const opened = await compactDecrypt(ours.toString('utf8'), privateKey);
      expect(Buffer.from(opened.plaintext)).toEqual(material);
      expect(opened.protectedHeader).toMatchObject({ alg: 'ECDH-ES', enc: 'A256GCM', kid: 'runtime' });
      expect(opened.protectedHeader.epk).toMatchObject({ kty: 'EC', crv });

      const theirs = await new CompactEncrypt(material)
        .setProtectedHeader({ alg: 'ECDH-ES', enc: 'A256GCM', kid: 'runtime' })
        .setKeyManagementParameters({ apu: Buffer.from('workload'), apv: Buffer.from('broker') })
        .encrypt(publicKey);
      expect(await ecdhEsUnwrap(Buffer.from(theirs), privateKey)).toEqual(material);
    });

  it('makes its ephemeral key with the asynchronous generator, never the synchronous one', async () => {
    // Node 20's generateKeyPairSync followed by a JWK export of that key deadlocks the process when
    // a garbage collection runs inside the export (seen within 2,000 to 18,000 wraps).
    const { publicKey } = pair('P-384');
    const sync = vi.mocked(crypto.generateKeyPairSync);
    const async = vi.mocked(crypto.generateKeyPair);
    sync.mockClear();
    async.mockClear();
    await ecdhEsWrap(material, publicKey, 'runtime');
    expect(sync).not.toHaveBeenCalled();
    expect(async).toHaveBeenCalledTimes(1);
    expect(async.mock.calls[0]?.[1]).toEqual({ namedCurve: 'secp384r1' });
  });

  it('wipes the shared secret and the content-encryption key after wrapping and after opening', async () => {
    const { publicKey, privateKey } = pair('P-256');
    const jwe = await ecdhEsWrap(material, publicKey, 'runtime');
    const opened = await ecdhEsUnwrap(jwe, privateKey);
    expect(opened).toEqual(material);
    // Wrapping: z, the KDF's input and the key; opening: the same and the plaintext (the caller's).
    expect(secrets).toHaveLength(7);
    const handedOut = secrets.filter((b) => b === opened);
    expect(handedOut).toHaveLength(1);
    for (const b of secrets.filter((x) => x !== opened)) {
      expect(b.length).toBeGreaterThanOrEqual(32);
      expect(isZero(b)).toBe(true);
    }
  });

  it('wipes the plaintext, the shared secret and the key when the tag does not hold', async () => {
    const { publicKey, privateKey } = pair('P-256');
    const parts = (await ecdhEsWrap(material, publicKey, 'runtime')).toString('utf8').split('.');
    const body = Buffer.from(parts[3] as string, 'base64url');
    body[0] = (body[0] ?? 0) ^ 1;
    parts[3] = body.toString('base64url');
    secrets.length = 0;
    const error = await rejection(ecdhEsUnwrap(Buffer.from(parts.join('.')), privateKey));
    expect(error).toMatchObject({ code: 'ERR_KMS_UNWRAP_FAILED', details: { field: 'ciphertext' } });
    expect(error.message).toBe('The released key could not be unwrapped with this key.');
    // z, the KDF's input, the key and the unauthenticated plaintext, each wiped.
    expect(secrets).toHaveLength(4);
    for (const b of secrets) expect(isZero(b)).toBe(true);
  });

  it('refuses a JWE it must not open before any key agreement, each with the one unwrap error', async () => {
    const { publicKey, privateKey } = pair('P-256');
    const offCurve = await withHeader((h) => {
      const epk = h.epk as { y: string };
      const y = Buffer.from(epk.y, 'base64url');
      y[31] = (y[31] ?? 0) ^ 1;
      epk.y = y.toString('base64url');
    }, publicKey);
    const jwe = (await ecdhEsWrap(material, publicKey, 'runtime')).toString('utf8');
    const [h, , iv, body, tag] = jwe.split('.') as [string, string, string, string, string];
    const cases: [string, Buffer][] = [
      ['an ephemeral key off its curve', offCurve],
      [
        'a critical header parameter',
        await withHeader((x) => Object.assign(x, { crit: ['exp'], exp: 1 }), publicKey),
      ],
      ['a compressed payload', await withHeader((x) => Object.assign(x, { zip: 'DEF' }), publicKey)],
      [
        'an ephemeral key on another curve',
        await withHeader(
          (x) => Object.assign(x, { epk: pair('P-384').publicKey.export({ format: 'jwk' }) }),
          publicKey,
        ),
      ],
      ['no ephemeral key', await withHeader((x) => Object.assign(x, { epk: undefined }), publicKey)],
      ['an encrypted key', Buffer.from([h, 'AAAA', iv, body, tag].join('.'))],
      ['a short tag', Buffer.from([h, '', iv, body, tag.slice(0, 10)].join('.'))],
      ['a short IV', Buffer.from([h, '', iv.slice(0, 8), body, tag].join('.'))],
      ['six parts', Buffer.from(`${jwe}.AAAA`)],
      ['a JWE cut off before its tag', Buffer.from([h, '', iv, body].join('.'))],
      ['nothing', Buffer.alloc(0)],
      ['an IV of impossible base64url length', Buffer.from([h, '', `${iv}A`, body, tag].join('.'))],
      [
        'a header that is not JSON',
        Buffer.from(['e30', '', iv, body, tag].join('.').replace('e30', 'bm90IGpzb24')),
      ],
      ['a header that is an array', Buffer.from([b64([1]), '', iv, body, tag].join('.'))],
      ['padding in a part', Buffer.from([h, '', `${iv}=`, body, tag].join('.'))],
      // The tag's 16 bytes leave four unused bits in its last character: set, Node alone reads the
      // same tag.
      ['a tag spelt with unused bits set', Buffer.from([h, '', iv, body, respelt(tag)].join('.'))],
      ['an oversized JWE', Buffer.from([h, '', iv, 'A'.repeat(32 * 1024), tag].join('.'))],
      ['an apu that is not a string', await withHeader((x) => Object.assign(x, { apu: 7 }), publicKey)],
      ['a padded apv', await withHeader((x) => Object.assign(x, { apv: 'YQ==' }), publicKey)],
      ['a ciphertext that is not base64url', Buffer.from([h, '', iv, `${body}+`, tag].join('.'))],
      ['an epk that is an array', await withHeader((x) => Object.assign(x, { epk: [x.epk] }), publicKey)],
      [
        'an epk that is not EC',
        await withHeader((x) => Object.assign(x, { epk: { ...(x.epk as object), kty: 'OKP' } }), publicKey),
      ],
    ];
    for (const [what, bytes] of cases) {
      agreements.count = 0;
      const error = await rejection(ecdhEsUnwrap(bytes, privateKey));
      // Refused before any key agreement: an ephemeral key off its curve never meets the private key.
      expect(agreements.count, what).toBe(0);
      expect(error.code, what).toBe('ERR_KMS_UNWRAP_FAILED');
      expect(error.message, what).toBe('The released key could not be unwrapped with this key.');
    }
  });
});
