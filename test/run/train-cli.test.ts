// `sealtrain train`, `evaluate` and `predict` (the built CLI) on the simulated TEE against a real
// broker over TLS: attested release, sealed outputs, policy mismatch, kill -9 and resume,
// rollback protection, and a canary that must never leak.

import { cp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attestWorkload } from '../../src/broker/client/attested-release.js';
import { encodeCheckpoint, openSealedModel, readMetrics, readSealedCheckpoint } from '../../src/run/index.js';
import { sealBuffer } from '../../src/seal/index.js';
import { StaticToken } from '../broker/helpers.js';
import { type CliResult, cli } from '../helpers/cli.js';
import { maaUnreachableErrorHere } from '../helpers/maa-standin.js';
import { CANARY, type RunFixture, releaseModelKey, startRunFixture, writeRunConfig } from './run-fixture.js';

let f: RunFixture;
const seen: CliResult[] = [];
const run = async (args: string[], options: Parameters<typeof cli>[1] = {}) => {
  const r = await cli([...args, '--home', f.home], options);
  seen.push(r);
  return r;
};

beforeAll(async () => {
  f = await startRunFixture();
}, 120_000);
afterAll(async () => {
  await f?.cleanup();
});

/** Every file under `dir`, as bytes. */
async function allFiles(dir: string): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true }))
    if (e.isFile()) out.push(await readFile(join(e.parentPath, e.name)));
  return out;
}

/** The weights of a sealed model, opened the way a TEE would (release of model-key). */
async function weights(path: string): Promise<Buffer> {
  const keys = await releaseModelKey(f);
  try {
    const m = await openSealedModel(path, keys.providers);
    return Buffer.from(m.network.params.buffer, m.network.params.byteOffset, m.network.params.byteLength);
  } finally {
    keys.close();
  }
}

describe('sealtrain train on the simulated TEE', () => {
  it('releases the data key after attestation, trains in memory, and seals checkpoints and the model', async () => {
    const config = await writeRunConfig(f, 'wdbc', {
      data: f.prepared.wdbc,
      training: { batch_size: 32, learning_rate: 0.003, epochs: 6, seed: 3 },
      output: { checkpoint_every_epochs: 2 },
    });
    const r = await run(['train', '--config', config, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ ok: true, tee: 'sim', epochs: 6, checkpoints: 3 });
    expect(String(r.json?.warning)).toMatch(/^SIMULATION/);
    const dir = join(f.dir, 'runs', 'wdbc');
    expect((await readdir(dir)).sort()).toEqual([
      'checkpoints',
      'metrics.jsonl',
      'model-card.json',
      'model.sealed',
      'resources.jsonl',
      'run.json',
    ]);
    expect(await readdir(join(dir, 'checkpoints'))).toEqual([
      'checkpoint-000001.sealed',
      'checkpoint-000002.sealed',
      'checkpoint-000003.sealed',
    ]);
    const card = JSON.parse(await readFile(join(dir, 'model-card.json'), 'utf8'));
    expect(card.attestation).toMatchObject({ type: 'sim', simulated: true, issuer: f.broker.url });
    expect(card.attestation.warning).toMatch(/^SIMULATION/);
    expect(card.keys_released.map((k: { uri: string }) => k.uri)).toEqual([
      `azurekv://${f.host}/keys/data-key`,
    ]);
    expect(card.lineage.path).toBe(join(f.prepared.wdbc, 'lineage.json'));
    expect(card.metrics.test_accuracy).toBeGreaterThan(0.85);
    const metrics = await readMetrics(join(dir, 'metrics.jsonl'));
    expect(metrics.filter((m) => m.type === 'epoch').map((m) => m.epoch)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(metrics.filter((m) => m.type === 'step').length).toBe(card.training.steps);
    // The model is sealed: its bytes are not the plaintext weights, and they open only with the key.
    const w = await weights(join(dir, 'model.sealed'));
    const sealed = await readFile(join(dir, 'model.sealed'));
    expect(sealed.includes(w.subarray(0, 64))).toBe(false);
    const audit = await readFile(join(f.home, 'audit', 'audit.jsonl'), 'utf8');
    expect(audit).toMatch(/"action":"run\.release".*"outcome":"ok"/);
    expect(audit).toMatch(/"action":"run\.checkpoint".*"counter":3/);
    expect(audit).toMatch(/"action":"run\.model"/);

    const ev = await run(['evaluate', '--config', config, '--json']);
    expect(ev.code, ev.stderr).toBe(0);
    expect(ev.json).toMatchObject({ split: 'test', tee: 'sim', accuracy: card.metrics.test_accuracy });
    const pr = await run([
      'predict',
      '--config',
      config,
      '--input',
      join(f.prepared.wdbc, 'test.tensor.sealed'),
      '--limit',
      '3',
    ]);
    expect(pr.code, pr.stderr).toBe(0);
    const lines = pr.stdout
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(lines[0].outputs).toHaveLength(2);
    expect(pr.stderr).toMatch(/SIMULATION/);

    const again = await run(['train', '--config', config]);
    expect(again.code).toBe(120);
    expect(again.stderr).toMatch(/already holds a run: pass --resume/);
  }, 120_000);

  it('refuses a key whose policy the TEE does not meet: no plaintext, exit 91, the failed claim named, audited', async () => {
    const config = await writeRunConfig(f, 'strict', { data: f.prepared.strict });
    const r = await run(['train', '--config', config]);
    expect(r.code).toBe(91);
    expect(r.stderr).toMatch(/strict-key/);
    expect(r.stderr).toMatch(/x-ms-sim-launchmeasurement/);
    // The release comes first: no run folder, so no output of any kind.
    await expect(stat(join(f.dir, 'runs', 'strict'))).rejects.toThrow(/ENOENT/);
    const audit = await readFile(join(f.home, 'audit', 'audit.jsonl'), 'utf8');
    expect(audit).toMatch(
      /"action":"run\.release".*strict-key.*"outcome":"error".*"code":"ERR_RELEASE_DENIED"|"action":"run\.release"[^\n]*"code":"ERR_RELEASE_DENIED"/,
    );
  }, 60_000);

  it('with security.maa, needs an SEV-SNP guest: on a machine without one, exit 83 naming configfs-tsm, no run folder; a missing MAA CA is named', async () => {
    const maa = { url: 'https://127.0.0.1:9', ca: f.caFile };
    const config = await writeRunConfig(f, 'maa', { data: f.prepared.wdbc, security: { tee: 'auto', maa } });
    const r = await run(['train', '--config', config, '--json']);
    const { platform, code: wanted } = await maaUnreachableErrorHere();
    expect(JSON.parse(String(r.stdout)).error, r.stderr).toMatchObject({ code: wanted });
    if (platform === 'none') {
      expect(r.code).toBe(83);
      expect(`${r.stderr}${r.stdout}`).toMatch(/MAA attestation needs an SEV-SNP guest with configfs-tsm/);
    }
    await expect(stat(join(f.dir, 'runs', 'maa'))).rejects.toThrow(/ENOENT/);
    const noCa = await writeRunConfig(f, 'maa-no-ca', {
      data: f.prepared.wdbc,
      security: { tee: 'auto', maa: { ...maa, ca: join(f.dir, 'no-such-ca.pem') } },
    });
    const missing = await run(['train', '--config', noCa]);
    expect(missing.code).toBe(10);
    expect(missing.stderr).toMatch(
      /MAA CA certificate \(security\.maa\.ca\).*no-such-ca\.pem|no-such-ca\.pem.*MAA CA/,
    );
  }, 60_000);

  it('refuses a wrong workload token, a truncated or tampered model, and a config that is not JSON', async () => {
    const badToken = join(f.dir, 'wrong.token');
    await writeFile(badToken, 'stb_this-token-was-never-issued', { mode: 0o600 });
    const config = await writeRunConfig(f, 'wrong-token', {
      data: f.prepared.wdbc,
      security: { broker: { ca: f.caFile, token_file: badToken } },
    });
    const denied = await run(['train', '--config', config]);
    expect(denied.code).toBe(93);
    await expect(stat(join(f.dir, 'runs', 'wrong-token'))).rejects.toThrow(/ENOENT/);

    // The first test's run: its sealed model, cut short and then with one flipped bit.
    const wdbc = join(f.dir, 'wdbc.json');
    const model = join(f.dir, 'runs', 'wdbc', 'model.sealed');
    const bytes = await readFile(model);
    const truncated = join(f.dir, 'truncated.sealed');
    await writeFile(truncated, bytes.subarray(0, bytes.length - 100));
    const cut = await run(['evaluate', '--config', wdbc, '--model', truncated]);
    expect(cut.code).toBe(25);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 40] = (flipped[flipped.length - 40] ?? 0) ^ 1;
    const tampered = join(f.dir, 'tampered.sealed');
    await writeFile(tampered, flipped);
    const bad = await run(['evaluate', '--config', wdbc, '--model', tampered]);
    expect(bad.code).toBe(24);
    expect(bad.stdout.length).toBe(0);

    const notJson = join(f.dir, 'not-json.json');
    await writeFile(notJson, '{ "model": ');
    const parse = await run(['train', '--config', notJson]);
    expect(parse.code).toBe(100);
    expect(parse.stderr).toMatch(/not-json\.json is not valid JSON/);
  }, 60_000);

  it('rejects an invalid config naming the path, and prints the JSON Schema', async () => {
    const config = await writeRunConfig(f, 'bad', {
      data: f.prepared.wdbc,
      training: { epochs: 2, batchsize: 3 },
    });
    const r = await run(['train', '--config', config]);
    expect(r.code).toBe(100);
    expect(r.stderr).toMatch(/training.*batchsize/);
    const s = await run(['config', 'schema']);
    expect(s.code).toBe(0);
    const schema = JSON.parse(s.stdout.toString());
    expect(Object.keys(schema.properties).sort()).toEqual([
      'data',
      'model',
      'output',
      'security',
      'training',
    ]);
    expect(schema.additionalProperties).toBe(false);
  });

  it('after kill -9 mid-training, --resume ends with the weights of an uninterrupted run; an older checkpoint is a rollback', async () => {
    const parts = {
      data: f.prepared.large,
      model: { architecture: 'mlp', input_size: 64, hidden_size: [384, 384], output_size: 4 },
      training: { batch_size: 64, learning_rate: 0.001, epochs: 8, seed: 9 },
      output: { checkpoint_every_epochs: 1, keep_checkpoints: 20 },
    };
    const whole = await run(['train', '--config', await writeRunConfig(f, 'whole', parts), '--json']);
    expect(whole.code, whole.stderr).toBe(0);
    const config = await writeRunConfig(f, 'killed', parts);
    const dir = join(f.dir, 'runs', 'killed');
    const killed = await run(['train', '--config', config], {
      signalWhen: {
        signal: 'SIGKILL',
        ready: async () =>
          (await readdir(join(dir, 'checkpoints')).catch(() => [] as string[])).includes(
            'checkpoint-000002.sealed',
          ),
      },
    });
    expect(killed.code).not.toBe(0);
    await expect(stat(join(dir, 'model.sealed'))).rejects.toThrow();
    const copy = `${dir}-rollback`;
    await cp(dir, copy, { recursive: true });

    // A checkpoint nobody recorded: anyone can seal for model-key's public part, with the run id
    // from run.json and a counter above every recorded one. The audit log does not know its hash, so
    // the resume passes over it (as over a checkpoint a crash left unrecorded).
    const forged = join(dir, 'checkpoints', 'checkpoint-000099.sealed');
    const access = await releaseModelKey(f);
    try {
      const real = await readSealedCheckpoint(
        join(dir, 'checkpoints', 'checkpoint-000001.sealed'),
        access.providers,
      );
      const plain = encodeCheckpoint({ ...real, header: { ...real.header, counter: 99 } });
      await writeFile(
        forged,
        await sealBuffer(plain, {
          recipients: [`azurekv://${f.host}/keys/model-key`],
          providers: access.providers,
        }),
      );
    } finally {
      access.close();
    }

    const resumed = await run(['train', '--config', config, '--resume', '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    // Checkpoint 2 if its audit record was written before the kill; else it is passed over (the
    // crash window between writing a checkpoint and recording it) and the run goes on from 1.
    expect(resumed.json?.resumed_from).toBeGreaterThanOrEqual(1);
    expect(
      (await weights(join(dir, 'model.sealed'))).equals(
        await weights(join(f.dir, 'runs', 'whole', 'model.sealed')),
      ),
    ).toBe(true);
    const epochs = (await readMetrics(join(dir, 'metrics.jsonl')))
      .filter((m) => m.type === 'epoch')
      .map((m) => m.epoch);
    expect(epochs).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(await readFile(join(f.home, 'audit', 'audit.jsonl'), 'utf8')).toMatch(
      /"action":"run\.checkpoint\.ignored"[^\n]*checkpoint-000099\.sealed/,
    );

    // Put the run folder back as it was at the kill: its checkpoints are older than the ones the
    // resume recorded since, so continuing from them is a rollback.
    await rm(dir, { recursive: true });
    await cp(copy, dir, { recursive: true });
    const refused = await run(['train', '--config', config, '--resume']);
    expect(refused.code).toBe(121);
    expect(refused.stderr).toMatch(/roll training back/);
    const allowed = await run(['train', '--config', config, '--resume', '--allow-rollback', '--json']);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(
      (await weights(join(dir, 'model.sealed'))).equals(
        await weights(join(f.dir, 'runs', 'whole', 'model.sealed')),
      ),
    ).toBe(true);
    const audit = await readFile(join(f.home, 'audit', 'audit.jsonl'), 'utf8');
    expect(audit).toMatch(/"action":"run\.rollback"[^\n]*"outcome":"error"/);
    expect(audit).toMatch(/"action":"run\.rollback"[^\n]*"outcome":"ok"/);
  }, 240_000);

  it('never lets the canary, the workload token or the data key into output, the audit logs or the run folders', async () => {
    expect(seen.length).toBeGreaterThan(5);
    // The data key itself, as a workload would get it: its private exponent must appear nowhere.
    const agent = new Agent({ ca: f.broker.caCertificate });
    const w = await attestWorkload({
      vaultUrl: f.broker.url,
      credential: new StaticToken(f.workload),
      agent,
      clientOptions: { agent, disableChallengeResourceVerification: true },
      sim: { privateKey: f.sim },
    });
    const key = await w.release('data-key');
    if (key.kty !== 'RSA') throw new Error('data-key should be RSA');
    const d = String(key.material.export({ format: 'jwk' }).d);
    const dBytes = Buffer.from(d, 'base64url');
    const texts = [d, dBytes.toString('hex'), dBytes.toString('base64')];
    for (const r of seen)
      for (const t of texts) expect(r.stdout.includes(t) || r.stderr.includes(t)).toBe(false);
    for (const r of seen) {
      expect(r.stdout.includes(CANARY)).toBe(false);
      expect(r.stderr.includes(CANARY)).toBe(false);
      expect(r.stderr.includes(f.workload)).toBe(false);
      expect(r.stdout.includes(f.workload)).toBe(false);
    }
    const logs = [
      ...(await allFiles(join(f.home, 'audit'))),
      ...(await allFiles(join(f.dir, 'state', 'audit'))),
      ...(await allFiles(join(f.dir, 'runs'))),
    ];
    for (const bytes of logs) {
      expect(bytes.includes(CANARY)).toBe(false);
      expect(bytes.includes(dBytes.subarray(0, 32))).toBe(false);
      for (const t of texts) expect(bytes.includes(t)).toBe(false);
      expect(bytes.includes(f.workload)).toBe(false);
    }
  });
});
