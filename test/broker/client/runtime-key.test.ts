// The attestation's ephemeral key can be started early: the key prepared is the one the evidence
// binds and the broker wraps for, and no key is handed out twice.

import * as crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { attestWorkload } from '../../../src/broker/client/attested-release.js';
import {
  prepareRuntimeKey,
  RUNTIME_KEY_BITS,
  RUNTIME_KEY_RACE,
  takeRuntimeKey,
} from '../../../src/broker/client/runtime-key.js';
import type { RunningBroker } from '../../../src/broker/index.js';
import { attestSim, brokerWithPrincipals, keyClient, tempDir } from '../helpers.js';

vi.mock('node:crypto', async (original) => {
  const real = await original<typeof import('node:crypto')>();
  return { ...real, generateKeyPair: vi.fn(real.generateKeyPair) };
});

const sim = crypto.generateKeyPairSync('ed25519');
const cleanups: Array<() => Promise<void>> = [];
let broker: RunningBroker;
let owner: string;
let workload: string;

beforeAll(async () => {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  ({ broker, owner, workload } = await brokerWithPrincipals(t.dir, {
    allowSimulated: true,
    simPublicKey: sim.publicKey,
  }));
  cleanups.push(() => broker.close());
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const point = (k: crypto.KeyObject) => k.export({ format: 'jwk' }).x;
/** Attests the sim workload to the test broker; `over` adds the runtime key or the wrapping. */
const attest = (over: Partial<Parameters<typeof attestWorkload>[0]> = {}) =>
  attestSim(broker, workload, sim.privateKey, over);

describe('the runtime key', () => {
  it('is an EC P-256 key by default, made once however often it is prepared, taken once, then made afresh', async () => {
    const generate = vi.mocked(crypto.generateKeyPair);
    generate.mockClear();
    prepareRuntimeKey();
    prepareRuntimeKey();
    expect(generate).toHaveBeenCalledTimes(1);
    const first = await takeRuntimeKey();
    const second = await takeRuntimeKey();
    expect(generate).toHaveBeenCalledTimes(2);
    expect(first.publicKey.asymmetricKeyType).toBe('ec');
    expect(first.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(point(first.publicKey)).not.toBe(point(second.publicKey));
  });

  it('as RSA (for Key Vault), races RUNTIME_KEY_RACE prime searches, and is not handed out for the other kind', async () => {
    const generate = vi.mocked(crypto.generateKeyPair);
    generate.mockClear();
    prepareRuntimeKey('rsa');
    prepareRuntimeKey('rsa');
    expect(generate).toHaveBeenCalledTimes(RUNTIME_KEY_RACE);
    const rsa = await takeRuntimeKey('rsa');
    expect(rsa.publicKey.asymmetricKeyType).toBe('rsa');
    expect(rsa.publicKey.asymmetricKeyDetails?.modulusLength).toBe(RUNTIME_KEY_BITS);
    // A prepared RSA key is dropped, not given, when an EC key is asked for (and the other way round).
    prepareRuntimeKey('rsa');
    expect((await takeRuntimeKey('ec')).publicKey.asymmetricKeyType).toBe('ec');
    prepareRuntimeKey('ec');
    expect((await takeRuntimeKey('rsa')).publicKey.asymmetricKeyType).toBe('rsa');
  });

  it('given to the attestation, is the key the token binds and the one released keys are wrapped for', async () => {
    await keyClient(broker, owner).createKey('data-key', 'oct', {
      keySize: 256,
      exportable: true,
      releasePolicy: {
        encodedPolicy: Buffer.from(
          JSON.stringify({
            version: '1.0.0',
            anyOf: [{ authority: broker.url, allOf: [{ claim: 'x-ms-attestation-type', equals: 'sim' }] }],
          }),
        ),
      },
    });
    prepareRuntimeKey();
    const runtimeKey = takeRuntimeKey();
    const w = await attest({
      runtimeKey,
    });
    const bound = (w.claims['x-ms-runtime'] as { keys: { x: string }[] }).keys.map((k) => k.x);
    expect(bound).toEqual([point((await runtimeKey).publicKey)]);
    const released = await w.release('data-key');
    expect(released).toMatchObject({ kty: 'oct', enc: 'ECDH_ES_A256GCM' });
    if (released.kty === 'oct') released.material.fill(0);
  });

  it("with Key Vault's RSA wrapping asked for, is RSA-2048 and the release is wrapped with it", async () => {
    const w = await attest({
      enc: 'RSA_AES_KEY_WRAP_256',
    });
    const [bound] = (w.claims['x-ms-runtime'] as { keys: { kty: string; n: string }[] }).keys;
    expect(bound?.kty).toBe('RSA');
    expect(Buffer.from(String(bound?.n), 'base64url').length * 8).toBe(RUNTIME_KEY_BITS);
    const released = await w.release('data-key');
    expect(released).toMatchObject({ kty: 'oct', enc: 'RSA_AES_KEY_WRAP_256' });
    if (released.kty === 'oct') released.material.fill(0);
  });

  it('is the key of a search that succeeded when another fails, and the first error when all fail', async () => {
    const generate = vi.mocked(crypto.generateKeyPair);
    const fail = ((_t: string, _o: unknown, callback: (e: Error) => void) =>
      callback(new Error('no entropy'))) as unknown as typeof crypto.generateKeyPair;
    generate.mockImplementationOnce(fail);
    const key = await takeRuntimeKey('rsa');
    expect(key.publicKey.asymmetricKeyDetails?.modulusLength).toBe(RUNTIME_KEY_BITS);
    for (let i = 0; i < RUNTIME_KEY_RACE; i++) generate.mockImplementationOnce(fail);
    const error = await takeRuntimeKey('rsa').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(AggregateError);
    expect((error as Error).message).toBe('no entropy');
    generate.mockImplementationOnce(fail);
    expect(await takeRuntimeKey('ec').catch((e: unknown) => e)).toMatchObject({ message: 'no entropy' });
  });

  it('of the wrong kind for the wrapping asked for is refused before any evidence is sent', async () => {
    const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    await expect(
      attest({
        runtimeKey: Promise.resolve(rsa),
      }),
    ).rejects.toMatchObject({ code: 'ERR_USAGE_INVALID', details: { field: 'runtimeKey' } });
  });

  it('that fails to be made fails the attestation with that error', async () => {
    const refused = Promise.reject(new Error('no entropy'));
    await expect(
      attest({
        runtimeKey: refused,
      }),
    ).rejects.toThrow('no entropy');
  });
});
