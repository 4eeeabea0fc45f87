// The workload's whole release flow against a real broker over TLS: nonce, sim evidence bound to an
// ephemeral RSA key, attestation token, KeyClient.releaseKey, unwrap in memory.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { Agent, createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { releaseWithAttestation } from '../../../src/broker/client/attested-release.js';
import { ensureTls, type RunningBroker } from '../../../src/broker/index.js';
import { isSealtrainError } from '../../../src/errors/index.js';
import { brokerWithPrincipals, clientOptions, keyClient, StaticToken, tempDir } from '../helpers.js';

const sim = generateKeyPairSync('ed25519');
const cleanups: Array<() => Promise<void>> = [];
let broker: RunningBroker;
let owner: string;
let workload: string;

const simPolicy = (authority: string, type = 'sim') =>
  Buffer.from(
    JSON.stringify({
      version: '1.0.0',
      anyOf: [{ authority, allOf: [{ claim: 'x-ms-attestation-type', equals: type }] }],
    }),
  );

async function release(b: RunningBroker, token: string, keyName: string) {
  return releaseWithAttestation({
    vaultUrl: b.url,
    credential: new StaticToken(token),
    keyName,
    agent: new Agent({ ca: b.caCertificate }),
    clientOptions: clientOptions(b),
    sim: { privateKey: sim.privateKey },
  });
}

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

/** Listens on loopback (closed after the file's tests); resolves to the server's URL. */
async function serving(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('releaseWithAttestation (sim) against the broker', () => {
  it('releases an exportable oct key whose policy admits sim, and the bytes are the key', async () => {
    const owners = keyClient(broker, owner);
    await owners.createKey('data-key', 'oct', {
      keySize: 256,
      exportable: true,
      releasePolicy: { encodedPolicy: simPolicy(broker.url) },
    });
    const first = await release(broker, workload, 'data-key');
    const second = await release(broker, workload, 'data-key');
    expect(first.kty).toBe('oct');
    if (first.kty !== 'oct' || second.kty !== 'oct') throw new Error('oct expected');
    expect(first.material.length).toBe(32);
    expect(first.material.equals(second.material)).toBe(true);
    expect(first.material.equals(randomBytes(32))).toBe(false);
  });

  it('is refused when the key policy does not admit sim, naming the condition', async () => {
    await keyClient(broker, owner).createKey('hardware-only', 'oct', {
      keySize: 256,
      exportable: true,
      releasePolicy: { encodedPolicy: simPolicy(broker.url, 'sevsnpvm') },
    });
    const e = await release(broker, workload, 'hardware-only').catch((x: unknown) => x);
    expect(isSealtrainError(e, 'ERR_RELEASE_DENIED')).toBe(true);
    expect(String((e as Error).message)).toMatch(/x-ms-attestation-type|sim/);
  });

  it('is refused at the attestation step by a broker started without --allow-simulated', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const strict = await brokerWithPrincipals(t.dir, { simPublicKey: sim.publicKey });
    cleanups.push(() => strict.broker.close());
    await keyClient(strict.broker, strict.owner).createKey('k', 'oct', {
      keySize: 256,
      exportable: true,
      releasePolicy: { encodedPolicy: simPolicy(strict.broker.url) },
    });
    const e = await release(strict.broker, strict.workload, 'k').catch((x: unknown) => x);
    expect(isSealtrainError(e, 'ERR_ATTEST_REJECTED')).toBe(true);
    expect(String((e as Error).message)).toMatch(/policy\.allow-sim/);
  });

  // Run side by side: each waits out the whole deadline.
  it.concurrent('gives up on a broker that takes the connection and never answers, after its 30 s deadline', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const tls = await ensureTls(join(t.dir, 'tls'));
    const seen: string[] = [];
    // Accepts each request and leaves it hanging: a wedged broker, or a proxy that lost its upstream.
    const hung = createServer({ cert: tls.certChainPem, key: tls.keyPem }, (req) => {
      seen.push(req.url ?? '');
    });
    const url = await serving(hung);
    const e = await releaseWithAttestation({
      vaultUrl: url,
      credential: new StaticToken(workload),
      keyName: 'data-key',
      agent: new Agent({ ca: tls.caPem }),
      sim: { privateKey: sim.privateKey },
    }).catch((x: unknown) => x);
    expect(e).toMatchObject({
      code: 'ERR_BROKER_REQUEST',
      message: expect.stringMatching(
        /https:\/\/127\.0\.0\.1:\d+\/(certs|attest\/nonce) gave no answer within 30 s/,
      ),
    });
    // The requests did arrive: it is the answer that never came.
    expect(seen).toContain('/attest/nonce');
  }, 90_000);

  // Run side by side: each waits out the whole deadline.
  it.concurrent('gives up on a release the vault takes and never answers, after its 30 s deadline', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const tls = await ensureTls(join(t.dir, 'tls'));
    // In front of the broker: passes the attestation through, and leaves each release hanging.
    const toBroker = new Agent({ ca: broker.caCertificate });
    const held: string[] = [];
    const proxy = createServer({ cert: tls.certChainPem, key: tls.keyPem }, (req, res) => {
      if (req.method === 'POST' && /\/release\b/.test(req.url ?? '')) {
        held.push(req.url ?? '');
        return;
      }
      const up = request(
        `${broker.url}${req.url}`,
        { method: req.method, headers: { ...req.headers, host: new URL(broker.url).host }, agent: toBroker },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    const url = await serving(proxy);
    const trust = new Agent({ ca: tls.caPem });
    const e = await releaseWithAttestation({
      vaultUrl: url,
      credential: new StaticToken(workload),
      keyName: 'data-key',
      agent: trust,
      clientOptions: { agent: trust, disableChallengeResourceVerification: true },
      sim: { privateKey: sim.privateKey },
    }).catch((x: unknown) => x);
    expect(e).toMatchObject({
      code: 'ERR_BROKER_REQUEST',
      message: `The release of data-key got no answer from ${url} within 30 s.`,
    });
    // The attestation went through; the release reached the vault, whose answer never came.
    expect(held.length).toBeGreaterThan(0);
  }, 90_000);
});
