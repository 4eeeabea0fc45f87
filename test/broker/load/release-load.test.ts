// Bounded load on loopback: 2,000 releases from 32 concurrent SDK clients against one broker.
// Asserts what users rely on under load: no errors, one audit entry per release, memory that does
// not grow with the number of requests. No timing is asserted (see bench/release.mjs for speed).
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectEvidence } from '../../../src/attest/index.js';
import { readAuditEntries } from '../../../src/audit/index.js';
import type { RunningBroker } from '../../../src/broker/index.js';
import { brokerWithPrincipals, keyClient, raw, tempDir } from '../helpers.js';

const RELEASES = 2000;
const CLIENTS = 32;
const sim = generateKeyPairSync('ed25519');
let broker: RunningBroker;
let workload: string;
let stateDir: string;
let token: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  const t = await tempDir();
  cleanup = t.cleanup;
  const started = await brokerWithPrincipals(t.dir, {
    allowSimulated: true,
    simPublicKey: sim.publicKey,
    rateLimit: { ratePerSecond: 100_000, burst: 100_000 },
  });
  ({ broker, workload, stateDir } = started);
  const policy = {
    version: '1.0.0',
    anyOf: [{ authority: broker.url, allOf: [{ claim: 'x-ms-attestation-type', equals: 'sim' }] }],
  };
  await keyClient(broker, started.owner).createKey('load-key', 'oct', {
    keySize: 256,
    exportable: true,
    releasePolicy: { encodedPolicy: Buffer.from(JSON.stringify(policy)) },
  });
  const runtime = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const nonce = (
    (await (await raw(broker, '/attest/nonce', { token: workload })).json()) as { nonce: string }
  ).nonce;
  const envelope = await collectEvidence({
    nonce: Buffer.from(nonce, 'base64url'),
    runtimeKey: runtime.publicKey,
    sim: { privateKey: sim.privateKey },
  });
  const answer = await raw(broker, '/attest/evidence', {
    method: 'POST',
    token: workload,
    body: JSON.stringify(envelope),
  });
  token = ((await answer.json()) as { token: string }).token;
});
afterAll(async () => {
  await broker.close();
  await cleanup();
});

describe('broker under load', () => {
  it(`answers ${RELEASES} releases from ${CLIENTS} clients with no error, audits each, and keeps memory flat`, async () => {
    const clients = Array.from({ length: CLIENTS }, () => keyClient(broker, workload));
    let next = 0;
    const errors: unknown[] = [];
    const heapAt: number[] = [];
    const worker = async (c: number) => {
      for (;;) {
        const i = next++;
        if (i >= RELEASES) return;
        if (i === RELEASES / 4 || i === RELEASES - 1) heapAt.push(process.memoryUsage().heapUsed);
        try {
          const r = await clients[c]?.releaseKey('load-key', token);
          if (!r?.value) errors.push(new Error('empty answer'));
        } catch (error) {
          errors.push(error);
        }
      }
    };
    await Promise.all(clients.map((_, c) => worker(c)));
    expect(errors).toEqual([]);
    const audited = await readAuditEntries(join(stateDir, 'audit'));
    const releases = audited.filter((e) => e.action === 'broker.keys.release' && e.outcome === 'ok');
    expect(releases.length).toBe(RELEASES);
    // Memory: what is retained after three quarters of the run must not scale with it.
    const [early = 0, late = 0] = heapAt;
    expect(late - early).toBeLessThan(64 * 1024 * 1024);
  });
});
