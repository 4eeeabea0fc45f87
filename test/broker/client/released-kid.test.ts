// A released key is handed out only when the broker's answer names the key asked for: an answer
// for another key, or a kid that is not a URL at all, is refused with the key's bytes wiped.

import * as crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RunningBroker } from '../../../src/broker/index.js';
import { attestSim, brokerWithPrincipals, keyClient, tempDir } from '../helpers.js';

// The kid the workload sees in the (verified) answer, replaced on demand; the bytes it held kept.
const seen: { kid: ((kid: string) => string) | undefined; material: Buffer[] } = {
  kid: undefined,
  material: [],
};
vi.mock('../../../src/broker/release/unwrap-released-key.js', async (original) => {
  const real = await original<typeof import('../../../src/broker/release/unwrap-released-key.js')>();
  return {
    ...real,
    unwrapReleasedKey: async (...args: Parameters<typeof real.unwrapReleasedKey>) => {
      const released = await real.unwrapReleasedKey(...args);
      if (released.kty === 'oct') seen.material.push(released.material);
      return seen.kid ? { ...released, kid: seen.kid(released.kid) } : released;
    },
  };
});

const sim = crypto.generateKeyPairSync('ed25519');
const cleanups: Array<() => Promise<void>> = [];
let broker: RunningBroker;
let workload: string;

beforeAll(async () => {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  let owner: string;
  ({ broker, owner, workload } = await brokerWithPrincipals(t.dir, {
    allowSimulated: true,
    simPublicKey: sim.publicKey,
  }));
  cleanups.push(() => broker.close());
  const policy = {
    version: '1.0.0',
    anyOf: [{ authority: broker.url, allOf: [{ claim: 'x-ms-attestation-type', equals: 'sim' }] }],
  };
  await keyClient(broker, owner).createKey('data-key', 'oct', {
    keySize: 256,
    exportable: true,
    releasePolicy: { encodedPolicy: Buffer.from(JSON.stringify(policy)) },
  });
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const attest = () => attestSim(broker, workload, sim.privateKey);

describe('the released key’s kid', () => {
  it('names the key asked for: the key is handed out', async () => {
    seen.kid = undefined;
    seen.material.length = 0;
    const w = await attest();
    try {
      const released = await w.release('data-key');
      expect(released.kid).toMatch(/\/keys\/data-key\/[0-9a-f]+$/);
      expect(seen.material).toHaveLength(1);
      expect(seen.material[0]?.some((b) => b !== 0)).toBe(true);
      if (released.kty === 'oct') released.material.fill(0);
    } finally {
      await w.close();
    }
  });

  for (const [what, kid] of [
    ['another key', (k: string) => k.replace('/keys/data-key/', '/keys/other-key/')],
    ['not a URL', () => 'http://[::1'],
  ] as const)
    it(`is ${what}: refused, naming both, with the released bytes wiped`, async () => {
      seen.kid = kid;
      seen.material.length = 0;
      const w = await attest();
      try {
        const error = await w.release('data-key').then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toMatchObject({ code: 'ERR_KMS_UNWRAP_FAILED', details: { key: 'data-key' } });
        expect((error as Error).message).toMatch(/not the key asked for \(data-key\)/);
        expect(seen.material).toHaveLength(1);
        expect(seen.material[0]?.every((b) => b === 0)).toBe(true);
      } finally {
        seen.kid = undefined;
        await w.close();
      }
    });
});
