import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { verifyMaaToken } from '../../../src/attest/maa/index.js';
import { isSealtrainError } from '../../../src/errors/index.js';
import { respelt } from '../../helpers/respelt.js';
import {
  compact,
  FIXTURE_ISSUER,
  FIXTURE_JWKS,
  FIXTURE_NOW,
  FIXTURE_TOKEN,
  failedIds,
  LOCAL_ISSUER,
  LOCAL_NOW,
  localHeader,
  localJwk,
  localJwks,
  localPayload,
  localToken,
} from './tokens.js';

const trusted = { issuers: [LOCAL_ISSUER], jwks: localJwks, now: LOCAL_NOW };
const failed = async (token: string, options: Parameters<typeof verifyMaaToken>[1] = trusted) =>
  failedIds((await verifyMaaToken(token, options)).checks);

describe('verifyMaaToken on tokens signed with a local key', () => {
  it('verifies a well-formed token with an n/e key', async () => {
    expect(await failed(localToken())).toEqual([]);
  });

  it('fails maa.jku for a jku on another host, and never fetches it', async () => {
    const token = localToken({ jku: 'https://attacker.example/certs' });
    expect(await failed(token)).toEqual(['maa.jku']);
    const fetchJwks = vi.fn(async () => localJwks);
    const { jwks: _, ...fetching } = trusted;
    expect(await failed(token, { ...fetching, fetchJwks })).toEqual(['maa.jku', 'maa.jwks', 'maa.signature']);
    expect(fetchJwks).not.toHaveBeenCalled();
  });

  it('fails maa.jku when jku is not exactly the /certs URL or is absent', async () => {
    expect(await failed(localToken({ jku: `${LOCAL_ISSUER}/certs/` }))).toEqual(['maa.jku']);
    expect(await failed(localToken({ jku: `${LOCAL_ISSUER}/other` }))).toEqual(['maa.jku']);
    expect(await failed(localToken({ jku: undefined }))).toEqual(['maa.jku']);
  });

  it('fetches <issuer>/certs once for a trusted issuer', async () => {
    const fetchJwks = vi.fn(async (_url: string) => localJwks);
    const { jwks: _, ...fetching } = trusted;
    const result = await verifyMaaToken(localToken(), { ...fetching, fetchJwks });
    expect(failedIds(result.checks)).toEqual([]);
    expect(fetchJwks.mock.calls).toEqual([[`${LOCAL_ISSUER}/certs`]]);
  });

  it('fetches the fixture key set and verifies the real token', async () => {
    const fetchJwks = vi.fn(async () => FIXTURE_JWKS);
    const result = await verifyMaaToken(FIXTURE_TOKEN, {
      issuers: [FIXTURE_ISSUER],
      now: FIXTURE_NOW,
      fetchJwks,
    });
    expect(failedIds(result.checks)).toEqual([]);
  });

  it('fails maa.jwks when the fetch fails or returns no key set', async () => {
    const { jwks: _, ...fetching } = trusted;
    const down = vi.fn(async () => Promise.reject(new Error('connection refused')));
    expect(await failed(localToken(), { ...fetching, fetchJwks: down })).toEqual([
      'maa.jwks',
      'maa.signature',
    ]);
    const garbage = vi.fn(async () => ({ keys: 'nope' }));
    expect(await failed(localToken(), { ...fetching, fetchJwks: garbage })).toEqual([
      'maa.jwks',
      'maa.signature',
    ]);
  });

  it('does not fetch for an untrusted issuer', async () => {
    const fetchJwks = vi.fn(async () => localJwks);
    const options = { issuers: [FIXTURE_ISSUER], now: LOCAL_NOW, fetchJwks };
    expect(await failed(localToken(), options)).toEqual(['maa.iss', 'maa.jwks', 'maa.signature']);
    expect(fetchJwks).not.toHaveBeenCalled();
  });

  it('checks exp and nbf with the clock skew', async () => {
    const t = Math.floor(LOCAL_NOW.getTime() / 1000);
    expect(await failed(localToken({}, { exp: t - 61 }))).toEqual(['maa.exp']);
    expect(await failed(localToken({}, { exp: t - 59 }))).toEqual([]);
    expect(await failed(localToken({}, { nbf: t + 61 }))).toEqual(['maa.nbf']);
    expect(await failed(localToken({}, { nbf: t + 59 }))).toEqual([]);
    expect(await failed(localToken({}, { exp: undefined, nbf: '0' }))).toEqual(['maa.exp', 'maa.nbf']);
  });

  it('fails maa.signature for a token signed by another key under the same kid', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(await failed(localToken({}, {}, other.privateKey))).toEqual(['maa.signature']);
  });

  it('fails maa.signature for an RSA key shorter than 2048 bits', async () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const jwks = { keys: [{ ...weak.publicKey.export({ format: 'jwk' }), kid: 'local-1' }] };
    const token = compact(localHeader, localPayload, (input) => sign('sha256', input, weak.privateKey));
    expect(await failed(token, { ...trusted, jwks })).toEqual(['maa.signature']);
  });

  it('fails maa.key for a key that is not an RSA signing key', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ecJwk = { ...ec.publicKey.export({ format: 'jwk' }), kid: 'local-1' };
    expect(await failed(localToken(), { ...trusted, jwks: { keys: [ecJwk] } })).toEqual([
      'maa.key',
      'maa.signature',
    ]);
    const enc = { keys: [{ ...localJwk, use: 'enc' }] };
    expect(await failed(localToken(), { ...trusted, jwks: enc })).toEqual(['maa.key', 'maa.signature']);
    const bare = { keys: [{ kty: 'RSA', kid: 'local-1' }] };
    expect(await failed(localToken(), { ...trusted, jwks: bare })).toEqual(['maa.key', 'maa.signature']);
  });

  it('signs and verifies with the same key when x5c is absent but n/e are present', async () => {
    const result = await verifyMaaToken(localToken(), trusted);
    expect(result.checks.some((c) => c.id.startsWith('maa.x5c'))).toBe(false);
  });
});

describe('verifyMaaToken on malformed input', () => {
  const code = async (token: unknown, options: object = trusted) => {
    try {
      await verifyMaaToken(token as string, options);
    } catch (error) {
      if (isSealtrainError(error)) return [error.code, error.details.field];
      throw error;
    }
    return undefined;
  };
  const [h = '', p = '', s = ''] = localToken().split('.');
  const json = (text: string) => Buffer.from(text).toString('base64url');

  it('names the part that is wrong', async () => {
    expect(await code(42)).toEqual(['ERR_ATTEST_MALFORMED', 'token']);
    expect(await code(`${h}.${p}`)).toEqual(['ERR_ATTEST_MALFORMED', 'token']);
    expect(await code(`${h}.${p}.${s}.x`)).toEqual(['ERR_ATTEST_MALFORMED', 'token']);
    expect(await code(`${h}!.${p}.${s}`)).toEqual(['ERR_ATTEST_MALFORMED', 'header']);
    expect(await code(`${h}.${p}=.${s}`)).toEqual(['ERR_ATTEST_MALFORMED', 'payload']);
    expect(await code(`${h}.${p}.${s}+/`)).toEqual(['ERR_ATTEST_MALFORMED', 'signature']);
    // The signature respelt (an unused low bit of its last character set): the same bytes to
    // Node's decoder, and refused as another token.
    expect(Buffer.from(respelt(s), 'base64url')).toEqual(Buffer.from(s, 'base64url'));
    expect(await code(`${h}.${p}.${respelt(s)}`)).toEqual(['ERR_ATTEST_MALFORMED', 'signature']);
    expect(await code(`${json('{"alg":')}.${p}.${s}`)).toEqual(['ERR_ATTEST_MALFORMED', 'header']);
    expect(await code(`${h}.${json('[1,2]')}.${s}`)).toEqual(['ERR_ATTEST_MALFORMED', 'payload']);
    expect(await code(`${h}.${json('null')}.${s}`)).toEqual(['ERR_ATTEST_MALFORMED', 'payload']);
    expect(await code(`${h}..${s}`)).toEqual(['ERR_ATTEST_MALFORMED', 'payload']);
    expect(await code(`${h}.${Buffer.from([0xff, 0xfe]).toString('base64url')}.${s}`)).toEqual([
      'ERR_ATTEST_MALFORMED',
      'payload',
    ]);
  });

  it('refuses a token over 64 KiB', async () => {
    const big = localToken({}, { pad: 'x'.repeat(64 * 1024) });
    expect(await code(big)).toEqual(['ERR_ATTEST_MALFORMED', 'token']);
  });

  it('refuses a malformed jwks option, naming the field', async () => {
    expect(await code(localToken(), { ...trusted, jwks: { keys: [{ kty: 'RSA', x5c: 'AAAA' }] } })).toEqual([
      'ERR_ATTEST_MALFORMED',
      'keys[0].x5c',
    ]);
    expect(await code(localToken(), { ...trusted, jwks: [] })).toEqual(['ERR_ATTEST_MALFORMED', 'jwks']);
  });

  it('refuses bad options', async () => {
    expect(await code(localToken(), { ...trusted, now: new Date('nope') })).toEqual([
      'ERR_USAGE_INVALID',
      'now',
    ]);
    expect(await code(localToken(), { ...trusted, issuers: LOCAL_ISSUER })).toEqual([
      'ERR_USAGE_INVALID',
      'issuers',
    ]);
  });
});
