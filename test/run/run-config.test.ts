import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRunConfig, runConfigJsonSchema } from '../../src/run/index.js';
import { rejectsWith } from '../helpers/rejects.js';

const base = {
  model: { architecture: 'mlp', input_size: 30, hidden_size: 16, output_size: 2 },
  training: { batch_size: 32, learning_rate: 0.001, epochs: 3 },
  security: {
    key: 'azurekv://127.0.0.1:8443/keys/model-key',
    tee: 'sim',
    broker: { ca: 'ca.pem', token_file: 't' },
  },
  data: { dir: 'prepared' },
  output: { dir: 'runs/a' },
};
const parse = (v: unknown) => Promise.resolve().then(() => parseRunConfig(v, '/cfg/train.json'));

describe('run config', () => {
  it('takes the seed shape, resolves paths against the config folder, and defaults safely', () => {
    const c = parseRunConfig(base, '/cfg/train.json');
    expect(c.data.dir).toBe(join('/cfg', 'prepared'));
    expect(c.output.dir).toBe(join('/cfg', 'runs/a'));
    expect(c.security.broker?.ca).toBe('/cfg/ca.pem');
    expect(c.security.attestation).toBe(true);
    expect(c.output.checkpoint_every_epochs).toBe(1);
    expect(parseRunConfig({ ...base, security: { key: 'local:owner' } }, '/cfg/t.json').security.tee).toBe(
      'auto',
    );
  });

  it('hashes the training-relevant sections apart from the output settings', () => {
    const a = parseRunConfig(base, '/cfg/train.json');
    const b = parseRunConfig(
      { ...base, output: { dir: 'elsewhere', keep_checkpoints: 9 } },
      '/cfg/train.json',
    );
    const c = parseRunConfig({ ...base, training: { ...base.training, seed: 2 } }, '/cfg/train.json');
    expect(a.trainingSha256).toBe(b.trainingSha256);
    expect(a.sha256).not.toBe(b.sha256);
    expect(c.trainingSha256).not.toBe(a.trainingSha256);
  });

  it('names every bad path: unknown fields, a bad key URI, a missing data location', async () => {
    const e = await rejectsWith(
      parse({
        ...base,
        security: { ...base.security, key: 'https://x', extra: 1 },
        data: {},
        training: { ...base.training, early_stopping: { patience: 0 } },
      }),
      'ERR_TRAIN_CONFIG_INVALID',
    );
    expect(e.message).toMatch(/\/cfg\/train\.json/);
    expect(e.message).toMatch(/security\.key/);
    expect(e.message).toMatch(/security: Unrecognized key: "extra"/);
    expect(e.message).toMatch(/data\.dir: give dir, train or files/);
    expect(e.message).toMatch(/training\.early_stopping\.patience/);
  });

  it('publishes a JSON Schema that closes every object', () => {
    const s = runConfigJsonSchema() as { properties: Record<string, { additionalProperties?: boolean }> };
    for (const section of ['security', 'data', 'output', 'training'])
      expect(s.properties[section]?.additionalProperties, section).toBe(false);
  });
});
