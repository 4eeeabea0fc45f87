// A broker over TLS with sim allowed, keys with release policies, and prepared data sealed for
// them: what the run tests share. The data carries a canary category that must never leak.

import { createPublicKey, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadOrCreateSimKey } from '../../src/attest/index.js';
import type { RunningBroker } from '../../src/broker/index.js';
import { loadLineageSigningKey, prepareDataset } from '../../src/data/index.js';
import { AzureKeyVaultProvider } from '../../src/kms/index.js';
import { type KeyAccess, openKeyAccess } from '../../src/run/index.js';
import { brokerWithPrincipals, clientOptions, keyClient, StaticToken, tempDir } from '../broker/helpers.js';

export const CANARY = 'CANARY-5f1e93c0a7d4b2e8';
const WDBC = fileURLToPath(new URL('../../examples/wdbc.csv', import.meta.url));

export interface RunFixture {
  dir: string;
  home: string;
  broker: RunningBroker;
  host: string;
  workload: string;
  owner: string;
  sim: KeyObject;
  tokenFile: string;
  caFile: string;
  /** The owner's `azurekv:` provider for the broker (seals, rewraps). */
  vault: AzureKeyVaultProvider;
  /** Prepared folders: WDBC + canary for data-key and for strict-key; a larger synthetic set. */
  prepared: { wdbc: string; strict: string; large: string };
  cleanup: () => Promise<void>;
}

function simPolicy(authority: string) {
  return {
    version: '1.0.0',
    anyOf: [{ authority, allOf: [{ claim: 'x-ms-attestation-type', equals: 'sim' }] }],
  };
}

/** A policy for the simulated TEE that pins a launch measurement it does not have. */
function wrongMeasurementPolicy(authority: string) {
  return {
    version: '1.0.0',
    anyOf: [
      {
        authority,
        allOf: [
          { claim: 'x-ms-attestation-type', equals: 'sim' },
          { claim: 'x-ms-sim-launchmeasurement', equals: 'ab'.repeat(48) },
        ],
      },
    ],
  };
}

/** WDBC with a categorical `site` column whose rare value is the canary. */
async function canaryCsv(path: string): Promise<void> {
  const lines = (await readFile(WDBC, 'utf8')).trim().split('\n');
  const out = lines.map((l, i) => (i === 0 ? `site,${l}` : `${i % 7 === 0 ? CANARY : 'general'},${l}`));
  await writeFile(path, `${out.join('\n')}\n`);
}

/** 16,000 rows of 64 features in 4 classes (a seeded linear rule), for runs long enough to kill. */
async function largeCsv(path: string): Promise<void> {
  let s = 12345;
  const rand = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  const header = [...Array.from({ length: 64 }, (_, i) => `f${i}`), 'label'].join(',');
  const rows = [header];
  for (let r = 0; r < 16_000; r++) {
    const x = Array.from({ length: 64 }, rand);
    const label = (x[0] ?? 0) + (x[1] ?? 0) > 0 ? ((x[2] ?? 0) > 0 ? 'a' : 'b') : (x[3] ?? 0) > 0 ? 'c' : 'd';
    rows.push(`${x.map((v) => v.toFixed(4)).join(',')},${label}`);
  }
  await writeFile(path, `${rows.join('\n')}\n`);
}

export async function startRunFixture(): Promise<RunFixture> {
  const t = await tempDir();
  const home = join(t.dir, 'home');
  await mkdir(home);
  const sim = (await loadOrCreateSimKey(home)).privateKey;
  const started = await brokerWithPrincipals(t.dir, {
    allowSimulated: true,
    simPublicKey: createPublicKey(sim),
  });
  const { broker, owner, workload } = started;
  const host = new URL(broker.url).host;
  const tokenFile = join(t.dir, 'trainer.token');
  const caFile = join(t.dir, 'ca.pem');
  await writeFile(tokenFile, `${workload}\n`, { mode: 0o600 });
  await writeFile(caFile, broker.caCertificate);
  const client = keyClient(broker, owner);
  const policy = (p: object) => ({ encodedPolicy: Buffer.from(JSON.stringify(p)) });
  for (const name of ['data-key', 'model-key'])
    await client.createKey(name, 'RSA', {
      keySize: 2048,
      exportable: true,
      releasePolicy: policy(simPolicy(broker.url)),
    });
  await client.createKey('strict-key', 'RSA', {
    keySize: 2048,
    exportable: true,
    releasePolicy: policy(wrongMeasurementPolicy(broker.url)),
  });
  const vault = new AzureKeyVaultProvider({
    vaultUrl: broker.url,
    credential: new StaticToken(owner),
    clientOptions: clientOptions(broker),
  });
  const signingKey = await loadLineageSigningKey(home);
  const prepare = async (csv: string, out: string, key: string, label: string) =>
    prepareDataset(csv, out, {
      infer: { label },
      seal: { recipients: [`azurekv://${host}/keys/${key}`], providers: [vault] },
      signingKey,
    });
  const csv = join(t.dir, 'wdbc-canary.csv');
  await canaryCsv(csv);
  const large = join(t.dir, 'large.csv');
  await largeCsv(large);
  const prepared = { wdbc: join(t.dir, 'wdbc'), strict: join(t.dir, 'strict'), large: join(t.dir, 'large') };
  await prepare(csv, prepared.wdbc, 'data-key', 'diagnosis');
  await prepare(csv, prepared.strict, 'strict-key', 'diagnosis');
  await prepare(large, prepared.large, 'data-key', 'label');
  return {
    dir: t.dir,
    home,
    broker,
    host,
    workload,
    owner,
    vault,
    sim,
    tokenFile,
    caFile,
    prepared,
    cleanup: async () => {
      await broker.close();
      await t.cleanup();
    },
  };
}

/** Writes a run config into the fixture folder and returns its path. */
export async function writeRunConfig(
  f: RunFixture,
  name: string,
  parts: { data: string; model?: object; training?: object; output?: object; security?: object },
): Promise<string> {
  const config = {
    model: parts.model ?? { architecture: 'mlp', input_size: 32, hidden_size: 16, output_size: 2 },
    training: parts.training ?? { batch_size: 32, learning_rate: 0.003, epochs: 5, seed: 3 },
    security: {
      key: `azurekv://${f.host}/keys/model-key`,
      tee: 'sim',
      broker: { ca: f.caFile, token_file: f.tokenFile },
      ...parts.security,
    },
    data: { dir: parts.data },
    output: { dir: join(f.dir, 'runs', name), ...parts.output },
  };
  const path = join(f.dir, `${name}.json`);
  await writeFile(path, JSON.stringify(config, null, 2));
  return path;
}

/**
 * The model key as a TEE gets it: released into this process after simulated attestation (and
 * its public part, to seal for it), the way a test opens what a run sealed.
 */
export async function releaseModelKey(f: RunFixture): Promise<KeyAccess> {
  return openKeyAccess({
    inputs: [],
    outputKey: `azurekv://${f.host}/keys/model-key`,
    releaseOutputKey: true,
    attestation: true,
    sim: { privateKey: f.sim },
    broker: { credential: new StaticToken(f.workload), ca: f.broker.caCertificate },
    audit: { sink: { record: async () => {} }, actor: 'test' },
  });
}
