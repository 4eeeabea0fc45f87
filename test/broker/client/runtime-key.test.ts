// The attestation's ephemeral key can be started early: the key prepared is the one the evidence
// binds and the broker wraps for, and no key is handed out twice.

import * as crypto from 'node:crypto';
import { Agent } from 'node:https';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { attestWorkload } from '../../../src/broker/client/attested-release.js';
import {
  prepareRuntimeKey,
  RUNTIME_KEY_BITS,
  RUNTIME_KEY_RACE,
  takeRuntimeKey,
} from '../../../src/broker/client/runtime-key.js';
import type { RunningBroker } from '../../../src/broker/index.js';
import { brokerWithPrincipals, clientOptions, keyClient, StaticToken, tempDir } from '../helpers.js';

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

const modulus = (k: crypto.KeyObject) => k.export({ format: 'jwk' }).n;

describe('the runtime key', () => {
  it('is made once however often it is prepared, taken once, then made afresh', async () => {
    const generate = vi.mocked(crypto.generateKeyPair);
    generate.mockClear();
    prepareRuntimeKey();
    prepareRuntimeKey();
    // One key, for which RUNTIME_KEY_RACE prime searches race.
    expect(generate).toHaveBeenCalledTimes(RUNTIME_KEY_RACE);
    const first = await takeRuntimeKey();
    const second = await takeRuntimeKey();
    expect(generate).toHaveBeenCalledTimes(2 * RUNTIME_KEY_RACE);
    expect(first.publicKey.asymmetricKeyType).toBe('rsa');
    expect(first.publicKey.asymmetricKeyDetails?.modulusLength).toBe(RUNTIME_KEY_BITS);
    expect(modulus(first.publicKey)).not.toBe(modulus(second.publicKey));
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
    const w = await attestWorkload({
      vaultUrl: broker.url,
      credential: new StaticToken(workload),
      agent: new Agent({ ca: broker.caCertificate }),
      clientOptions: clientOptions(broker),
      sim: { privateKey: sim.privateKey },
      runtimeKey,
    });
    const bound = (w.claims['x-ms-runtime'] as { keys: { n: string }[] }).keys.map((k) => k.n);
    expect(bound).toEqual([modulus((await runtimeKey).publicKey)]);
    const released = await w.release('data-key');
    expect(released.kty).toBe('oct');
    if (released.kty === 'oct') released.material.fill(0);
  });

  it('is the key of a search that succeeded when another fails, and the first error when all fail', async () => {
    const generate = vi.mocked(crypto.generateKeyPair);
    const fail = ((_t: string, _o: unknown, callback: (e: Error) => void) =>
      callback(new Error('no entropy'))) as unknown as typeof crypto.generateKeyPair;
    generate.mockImplementationOnce(fail);
    const key = await takeRuntimeKey();
    expect(key.publicKey.asymmetricKeyDetails?.modulusLength).toBe(RUNTIME_KEY_BITS);
    for (let i = 0; i < RUNTIME_KEY_RACE; i++) generate.mockImplementationOnce(fail);
    const error = await takeRuntimeKey().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(AggregateError);
    expect((error as Error).message).toBe('no entropy');
  });

  it('that fails to be made fails the attestation with that error', async () => {
    const refused = Promise.reject(new Error('no entropy'));
    await expect(
      attestWorkload({
        vaultUrl: broker.url,
        credential: new StaticToken(workload),
        agent: new Agent({ ca: broker.caCertificate }),
        clientOptions: clientOptions(broker),
        sim: { privateKey: sim.privateKey },
        runtimeKey: refused,
      }),
    ).rejects.toThrow('no entropy');
  });
});
