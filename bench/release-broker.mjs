// Child process for bench/release.mjs: a broker with one exportable key and a sim attestation
// token, so the benchmark's clients and the broker do not share a process. Prints one JSON line.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const { addPrincipal, BrokerStore, startBroker } = await import('../dist/broker/index.js');
const { collectEvidence } = await import('../dist/attest/index.js');

const dir = mkdtempSync(join(tmpdir(), 'sealtrain-bench-broker-'));
const sim = generateKeyPairSync('ed25519');
const pass = () => Buffer.from('bench-passphrase-not-secret');
const broker = await startBroker({
  stateDir: dir,
  passphrase: pass(),
  scryptCost: 1024,
  allowSimulated: true,
  simPublicKey: sim.publicKey,
  rateLimit: { ratePerSecond: 1e9, burst: 1e9 },
  log: () => {},
});
const store = await BrokerStore.open(dir, pass(), { mustExist: true });
const owner = (await addPrincipal(store, { name: 'owner', role: 'owner' })).token;
const workload = (await addPrincipal(store, { name: 'workload', role: 'workload' })).token;
store.close();
const call = async (path, token, body) => {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = request(
      `${broker.url}${path}`,
      {
        method: body ? 'POST' : 'GET',
        ca: broker.caCertificate,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      },
      (res) => {
        let t = '';
        res.on('data', (c) => {
          t += c;
        });
        res.on('end', () => resolve(JSON.parse(t)));
      },
    );
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
};
const policy = {
  version: '1.0.0',
  anyOf: [{ authority: broker.url, allOf: [{ claim: 'x-ms-attestation-type', equals: 'sim' }] }],
};
await call('/keys/bench-key/create?api-version=7.4', owner, {
  kty: 'oct',
  key_size: 256,
  attributes: { exportable: true },
  release_policy: {
    contentType: 'application/json; charset=utf-8',
    data: Buffer.from(JSON.stringify(policy)).toString('base64url'),
  },
});
const runtime = generateKeyPairSync('rsa', { modulusLength: 2048 });
const { nonce } = await call('/attest/nonce', workload);
const envelope = await collectEvidence({
  nonce: Buffer.from(nonce, 'base64url'),
  runtimeKey: runtime.publicKey,
  sim: { privateKey: sim.privateKey },
});
const { token } = await call('/attest/evidence', workload, envelope);
process.stdout.write(
  `${JSON.stringify({ url: broker.url, ca: broker.caCertificate, workload, token, runtimePublicKey: runtime.publicKey.export({ type: 'spki', format: 'pem' }) })}\n`,
);
process.on('SIGTERM', async () => {
  await broker.close();
  process.exit(0);
});
