// Requests a security review found to end in 500s or to be silently half-honoured.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAuditEntries } from '../../../src/audit/index.js';
import { createNonceStore, NONCE_MAX_PER_OWNER } from '../../../src/broker/attestation/index.js';
import { BrokerStore, type RunningBroker, revokePrincipal } from '../../../src/broker/index.js';
import { brokerWithPrincipals, keyClient, pass, raw, tempDir } from '../helpers.js';

let broker: RunningBroker;
let owner: string;
let workload: string;
const logged: string[] = [];
let cleanup: () => Promise<void>;

beforeAll(async () => {
  const t = await tempDir();
  cleanup = t.cleanup;
  ({ broker, owner, workload } = await brokerWithPrincipals(t.dir, { log: (l) => logged.push(l) }));
});
afterAll(async () => {
  await broker.close();
  await cleanup();
});

describe('broker hardening', () => {
  it('treats names of Object.prototype members as ordinary key names', async () => {
    for (const name of ['constructor', 'toString', 'hasOwnProperty']) {
      const missing = await raw(broker, `/keys/${name}/abc?api-version=7.4`, { token: workload });
      expect(missing.status).toBe(404);
      const versions = await raw(broker, `/keys/${name}/versions?api-version=7.4`, { token: owner });
      expect(versions.status).toBe(404);
    }
    const created = await keyClient(broker, owner).createRsaKey('constructor', { keySize: 2048 });
    expect(created.name).toBe('constructor');
    expect((await keyClient(broker, owner).getKey('constructor')).key?.kty).toBe('RSA');
  });

  it('answers 400 naming the field for an RSA wrap of more bytes than OAEP allows', async () => {
    const key = await keyClient(broker, owner).createRsaKey('wrap-limit', { keySize: 2048 });
    const value = Buffer.alloc(300, 1).toString('base64url');
    const r = await raw(broker, `/keys/wrap-limit/${key.properties.version}/wrapkey?api-version=7.4`, {
      method: 'POST',
      token: owner,
      body: JSON.stringify({ alg: 'RSA-OAEP-256', value }),
    });
    expect(r.status).toBe(400);
    expect(JSON.stringify(await r.json())).toMatch(/value.* is 300 bytes/);
  });

  it('refuses expiry and activation dates it would not enforce', async () => {
    const r = await raw(broker, '/keys/dated/create?api-version=7.4', {
      method: 'POST',
      token: owner,
      body: JSON.stringify({ kty: 'RSA', key_size: 2048, attributes: { exp: 1000 } }),
    });
    expect(r.status).toBe(400);
    expect(JSON.stringify(await r.json())).toMatch(/exp.*not supported/);
    expect((await raw(broker, '/keys/dated/versions?api-version=7.4', { token: owner })).status).toBe(404);
  });

  it('logs no internal errors for any of the above', () => {
    expect(logged.filter((l) => /internal error/.test(l))).toEqual([]);
  });
});

describe('broker state rollback', () => {
  it('refuses an older copy of the state put back under a running broker, so a revocation stays', async () => {
    const t = await tempDir();
    try {
      const started = await brokerWithPrincipals(t.dir, { log: () => {} });
      const path = join(started.stateDir, 'state.json');
      const before = await readFile(path);
      const store = await BrokerStore.open(started.stateDir, pass(), { mustExist: true });
      await revokePrincipal(store, 'trainer');
      store.close();
      expect((await raw(started.broker, '/keys?api-version=7.4', { token: started.workload })).status).toBe(
        401,
      );
      await writeFile(`${path}.old`, before);
      await rename(`${path}.old`, path);
      const replayed = await raw(started.broker, '/keys?api-version=7.4', { token: started.workload });
      expect(replayed.status).toBe(500);
      await started.broker.close();
    } finally {
      await t.cleanup();
    }
  });
});

describe('attestation nonces under pressure', () => {
  it('caps the nonces one principal holds, so it cannot exhaust them for everyone', async () => {
    const store = createNonceStore({ maxPerOwner: 3 });
    for (let i = 0; i < 3; i++) store.issue('a');
    expect(() => store.issue('a')).toThrow(/a holds 3 unused ones/);
    const forB = store.issue('b');
    expect(store.consume(forB)).toBe(true);
    expect(store.issue('b')).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('answers 429 to a principal over its cap and keeps serving the others', async () => {
    for (let i = 0; i < NONCE_MAX_PER_OWNER; i++)
      expect((await raw(broker, '/attest/nonce', { token: owner })).status).toBe(200);
    const over = await raw(broker, '/attest/nonce', { token: owner });
    expect(over.status).toBe(429);
    expect(over.headers.get('retry-after')).toMatch(/^\d+$/);
    expect((await raw(broker, '/attest/nonce', { token: workload })).status).toBe(200);
  });
});

describe('unauthenticated floods', () => {
  it('throttles failed authentication per address and stops auditing it beyond the limit', async () => {
    const t = await tempDir();
    try {
      const started = await brokerWithPrincipals(t.dir, {
        log: () => {},
        rateLimit: { ratePerSecond: 1, burst: 20 },
      });
      const statuses: number[] = [];
      for (let i = 0; i < 200; i++)
        statuses.push(
          (await raw(started.broker, '/keys?api-version=7.4', { token: 'stbk_not-a-real-token' })).status,
        );
      expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(25);
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(175);
      expect((await raw(started.broker, '/keys?api-version=7.4', { token: started.owner })).status).toBe(200);
      await started.broker.close();
      const anonymous = (await readAuditEntries(join(started.stateDir, 'audit'))).filter(
        (e) => e.actor === 'anonymous',
      );
      expect(anonymous.length).toBeLessThanOrEqual(25);
    } finally {
      await t.cleanup();
    }
  });
});
