// The documented path from a CSV to a sealed model with nothing but `sealtrain` commands: an
// exportable key with a release policy, prepare sealed for it, train on sim, evaluate.

import { createPublicKey } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateSimKey } from '../../src/attest/index.js';
import type { RunningBroker } from '../../src/broker/index.js';
import { brokerWithPrincipals, tempDir } from '../broker/helpers.js';
import { cli } from '../helpers/cli.js';

const WDBC = fileURLToPath(new URL('../../examples/wdbc.csv', import.meta.url));
let dir: string;
let home: string;
let broker: RunningBroker;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  const t = await tempDir();
  dir = t.dir;
  home = join(dir, 'home');
  await mkdir(home);
  const sim = await loadOrCreateSimKey(home);
  const started = await brokerWithPrincipals(dir, {
    allowSimulated: true,
    simPublicKey: createPublicKey(sim.privateKey),
  });
  broker = started.broker;
  cleanup = async () => {
    await broker.close();
    await t.cleanup();
  };
  await writeFile(join(dir, 'owner.token'), started.owner, { mode: 0o600 });
  await writeFile(join(dir, 'trainer.token'), started.workload, { mode: 0o600 });
  await writeFile(join(dir, 'ca.pem'), broker.caCertificate);
  const policy = {
    version: '1.0.0',
    anyOf: [{ authority: broker.url, allOf: [{ claim: 'x-ms-attestation-type', equals: 'sim' }] }],
  };
  await writeFile(join(dir, 'policy.json'), JSON.stringify(policy));
  await writeFile(
    join(dir, 'bad-policy.json'),
    JSON.stringify({ anyOf: [{ authority: broker.url, allOf: [{ claim: 'x', sometimes: 1 }] }] }),
  );
});
afterAll(async () => cleanup?.());

describe('from a CSV to a sealed model with sealtrain commands only', () => {
  it('creates releasable keys, prepares sealed data, trains on sim and evaluates', async () => {
    const host = new URL(broker.url).host;
    const owner = [
      '--home',
      home,
      '--broker-token-file',
      join(dir, 'owner.token'),
      '--broker-ca',
      join(dir, 'ca.pem'),
    ];
    for (const key of ['data-key', 'model-key']) {
      const r = await cli([
        'keys',
        'create',
        `azurekv://${host}/keys/${key}`,
        '--release-policy',
        join(dir, 'policy.json'),
        ...owner,
        '--json',
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.json?.key).toMatchObject({ uri: `azurekv://${host}/keys/${key}`, enabled: true });
    }
    const bad = await cli([
      'keys',
      'create',
      `azurekv://${host}/keys/other`,
      '--release-policy',
      join(dir, 'bad-policy.json'),
      ...owner,
    ]);
    expect(bad.code).toBe(90);
    const prepared = join(dir, 'prepared');
    const p = await cli([
      'prepare',
      WDBC,
      '--infer',
      '--label',
      'diagnosis',
      '-o',
      prepared,
      '--seal-to',
      `azurekv://${host}/keys/data-key`,
      ...owner,
      '--json',
    ]);
    expect(p.code, p.stderr).toBe(0);
    const config = {
      model: { architecture: 'mlp', input_size: 30, hidden_size: 16, output_size: 2 },
      training: { epochs: 10, learning_rate: 0.003, seed: 4 },
      security: {
        key: `azurekv://${host}/keys/model-key`,
        tee: 'sim',
        broker: { ca: 'ca.pem', token_file: 'trainer.token' },
      },
      data: { dir: 'prepared' },
      output: { dir: 'runs/wdbc' },
    };
    await writeFile(join(dir, 'train.json'), JSON.stringify(config));
    const t = await cli(['train', '--config', join(dir, 'train.json'), '--home', home, '--json']);
    expect(t.code, t.stderr).toBe(0);
    expect((t.json?.metrics as Record<string, number> | undefined)?.test_accuracy).toBeGreaterThan(0.85);
    const e = await cli([
      'evaluate',
      '--config',
      join(dir, 'train.json'),
      '--home',
      home,
      '--split',
      'validation',
    ]);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stderr).toMatch(/^SIMULATION/m);
    expect(e.stderr).toMatch(/validation: loss [\d.]+, accuracy [\d.]+ %/);
    // The global --broker-token-file and --broker-ca win over the config's, as on every command.
    const bare = { ...config, security: { key: config.security.key, tee: 'sim' } };
    await writeFile(join(dir, 'bare.json'), JSON.stringify(bare));
    const flags = ['--broker-token-file', join(dir, 'trainer.token'), '--broker-ca', join(dir, 'ca.pem')];
    const byFlags = await cli(['evaluate', '--config', join(dir, 'bare.json'), '--home', home, ...flags]);
    expect(byFlags.code, byFlags.stderr).toBe(0);
    expect(byFlags.stderr).toMatch(/test: loss [\d.]+, accuracy [\d.]+ %/);
    const asOwner = await cli([
      'evaluate',
      '--config',
      join(dir, 'train.json'),
      '--home',
      home,
      '--broker-token-file',
      join(dir, 'owner.token'),
      '--json',
    ]);
    expect(asOwner.code).not.toBe(0);
    expect(asOwner.json?.error).toMatchObject({ code: 'ERR_BROKER_AUTH' });
    // Resuming a finished run opens its last checkpoint and seals the same model again.
    const again = await cli([
      'train',
      '--config',
      join(dir, 'train.json'),
      '--home',
      home,
      '--resume',
      '--json',
    ]);
    expect(again.code, again.stderr).toBe(0);
    const [m1, m2] = [t.json?.metrics, again.json?.metrics] as Record<string, number>[];
    expect([m2?.validation_loss, m2?.test_loss]).toEqual([m1?.validation_loss, m1?.test_loss]);
  }, 120_000);

  it('refuses, with attestation on, data sealed only for a local key', async () => {
    await writeFile(join(dir, 'pass.txt'), 'correct horse battery staple\n', { mode: 0o600 });
    const local = ['--home', home, '--passphrase-file', join(dir, 'pass.txt')];
    expect((await cli(['keys', 'init', '--scrypt-cost', '1024', ...local])).code).toBe(0);
    expect((await cli(['keys', 'create', 'hospital-a', ...local])).code).toBe(0);
    const p = await cli([
      'prepare',
      WDBC,
      '--infer',
      '--label',
      'diagnosis',
      '-o',
      join(dir, 'local-prepared'),
      '--seal-to',
      'local:hospital-a',
      ...local,
    ]);
    expect(p.code, p.stderr).toBe(0);
    const host = new URL(broker.url).host;
    const config = {
      model: { architecture: 'mlp', input_size: 30, hidden_size: 16, output_size: 2 },
      security: {
        key: `azurekv://${host}/keys/model-key`,
        tee: 'sim',
        broker: { ca: 'ca.pem', token_file: 'trainer.token' },
      },
      data: { dir: 'local-prepared' },
      output: { dir: 'runs/local' },
    };
    await writeFile(join(dir, 'local.json'), JSON.stringify(config));
    const r = await cli(['train', '--config', join(dir, 'local.json'), ...local]);
    expect(r.code).toBe(124);
    expect(r.stderr).toMatch(/train\.tensor\.sealed is sealed only for local:hospital-a/);
  }, 60_000);
});
