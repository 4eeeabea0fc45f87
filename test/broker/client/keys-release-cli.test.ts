// `sealtrain keys release` (the built CLI) against a broker started in this process.

import { createPublicKey } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateSimKey } from '../../../src/attest/index.js';
import type { RunningBroker } from '../../../src/broker/index.js';
import { cli } from '../../helpers/cli.js';
import { maaUnreachableErrorHere } from '../../helpers/maa-standin.js';
import { brokerWithPrincipals, keyClient, tempDir } from '../helpers.js';

let broker: RunningBroker;
let dir: string;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  const t = await tempDir();
  dir = t.dir;
  cleanups.push(t.cleanup);
  const home = join(dir, 'home');
  await mkdir(home);
  const sim = await loadOrCreateSimKey(home);
  const started = await brokerWithPrincipals(dir, {
    allowSimulated: true,
    simPublicKey: createPublicKey(sim.privateKey),
  });
  broker = started.broker;
  cleanups.push(() => broker.close());
  await writeFile(join(dir, 'trainer.token'), `${started.workload}\n`, { mode: 0o600 });
  await writeFile(join(dir, 'owner.token'), started.owner, { mode: 0o600 });
  await writeFile(join(dir, 'ca.pem'), broker.caCertificate);
  const policy = {
    version: '1.0.0',
    anyOf: [{ authority: broker.url, allOf: [{ claim: 'x-ms-attestation-type', equals: 'sim' }] }],
  };
  await keyClient(broker, started.owner).createKey('data-key', 'oct', {
    keySize: 256,
    exportable: true,
    releasePolicy: { encodedPolicy: Buffer.from(JSON.stringify(policy)) },
  });
});
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('sealtrain keys release', () => {
  it('releases into memory with sim evidence and prints the key id, never the key', async () => {
    const uri = `azurekv://${new URL(broker.url).host}/keys/data-key`;
    const base = ['keys', 'release', uri, '--ca', join(dir, 'ca.pem'), '--home', join(dir, 'home'), '--json'];
    const r = await cli([...base, '--token-file', join(dir, 'trainer.token'), '--sim']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json?.released).toMatchObject({ kty: 'oct', bits: 256, sim: true });
    expect(r.stdout.toString()).not.toMatch(/"k"|material/);
    const owner = await cli([...base, '--token-file', join(dir, 'owner.token'), '--sim']);
    expect(owner.code).toBe(93);
    expect(owner.stderr).toMatch(/may not perform keys\.release/);
    const noTee = await cli([...base, '--token-file', join(dir, 'trainer.token')]);
    expect(noTee.code).toBe(83);
    const missing = await cli([...base, '--token-file', join(dir, 'nope.token'), '--sim']);
    expect(missing.code).toBe(10);
  });

  it('with --maa: refuses sim evidence, names a missing MAA CA, and needs an SEV-SNP guest', async () => {
    const uri = `azurekv://${new URL(broker.url).host}/keys/data-key`;
    const base = ['keys', 'release', uri, '--ca', join(dir, 'ca.pem'), '--home', join(dir, 'home')];
    const token = ['--token-file', join(dir, 'trainer.token')];
    const withSim = await cli([...base, ...token, '--maa', 'https://127.0.0.1:9', '--sim']);
    expect(withSim.code).toBe(2);
    expect(withSim.stderr).toMatch(/MAA never accepts simulated evidence/);
    const noCa = await cli([
      ...base,
      ...token,
      '--maa',
      'https://127.0.0.1:9',
      '--maa-ca',
      join(dir, 'no-ca.pem'),
    ]);
    expect(noCa.code).toBe(10);
    expect(noCa.stderr).toMatch(/MAA CA certificate.*no-ca\.pem|no-ca\.pem.*MAA CA certificate/);
    const r = await cli([...base, ...token, '--maa', 'https://127.0.0.1:9', '--json']);
    const { platform, code: wanted } = await maaUnreachableErrorHere();
    expect(r.json?.error, r.stderr).toMatchObject({ code: wanted });
    // The MAA path, not the broker's, said so.
    if (platform === 'none')
      expect(r.stderr).toMatch(/MAA attestation needs an SEV-SNP guest with configfs-tsm/);
  });
});
