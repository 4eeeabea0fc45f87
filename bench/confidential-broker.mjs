// Child process for bench/confidential.mjs: the key broker in a process of its own, so that its
// work (TLS, evidence checks, token signing, key wrapping) does not share the training's process.
// Argument: the simulated TEE's public key (PEM). Prints one JSON line: url, CA, owner and workload
// tokens (to the parent's pipe only). Creates data-key and model-key with a sim release policy.
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyClient } from '@azure/keyvault-keys';
import { addPrincipal, BrokerStore, startBroker } from '../dist/broker/index.js';

const dir = mkdtempSync(join(tmpdir(), 'sealtrain-bench-confidential-broker-'));
const pass = () => Buffer.from('bench-broker-passphrase');
const broker = await startBroker({
  stateDir: dir,
  passphrase: pass(),
  scryptCost: 1 << 14,
  allowSimulated: true,
  simPublicKey: createPublicKey(process.argv[2] ?? ''),
  log: () => {},
});
const store = await BrokerStore.open(dir, pass(), { mustExist: true });
const owner = (await addPrincipal(store, { name: 'owner', role: 'owner' })).token;
const workload = (await addPrincipal(store, { name: 'trainer', role: 'workload' })).token;
store.close();
const credential = { getToken: async () => ({ token: owner, expiresOnTimestamp: Date.now() + 3_600_000 }) };
const keys = new KeyClient(broker.url, credential, {
  agent: new Agent({ ca: broker.caCertificate }),
  disableChallengeResourceVerification: true,
  retryOptions: { maxRetries: 0 },
});
const policy = {
  version: '1.0.0',
  anyOf: [{ authority: broker.url, allOf: [{ claim: 'x-ms-attestation-type', equals: 'sim' }] }],
};
for (const name of ['data-key', 'model-key'])
  await keys.createKey(name, 'RSA', {
    keySize: 3072,
    exportable: true,
    releasePolicy: { encodedPolicy: Buffer.from(JSON.stringify(policy)) },
  });
process.stdout.write(`${JSON.stringify({ url: broker.url, ca: broker.caCertificate, owner, workload })}\n`);
process.on('SIGTERM', async () => {
  await broker.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
});
