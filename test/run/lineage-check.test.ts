// `data.lineage_key`: a run trains only on the data its owner prepared and signed. Anyone can seal
// for the data key's public part, so a substituted split decrypts and authenticates; only the
// signed lineage manifest tells it apart.

import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { cp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyIdOf } from '../../src/audit/index.js';
import { loadLineageSigningKey, signManifest } from '../../src/data/index.js';
import { parseRunConfig, resolveInputs, runTraining } from '../../src/run/index.js';
import { rewrapFile } from '../../src/seal/index.js';
import { cli } from '../helpers/cli.js';
import { type RunFixture, startRunFixture } from './run-fixture.js';

let f: RunFixture;
let ownerKey: string;

beforeAll(async () => {
  f = await startRunFixture();
  ownerKey = join(f.home, 'audit', 'signing-key.pub.pem');
}, 120_000);
afterAll(async () => {
  await f?.cleanup();
});

async function config(name: string, data: Record<string, unknown>): Promise<string> {
  const path = join(f.dir, `lineage-${name}.json`);
  await writeFile(
    path,
    JSON.stringify({
      model: { architecture: 'mlp', input_size: 32, hidden_size: 16, output_size: 2 },
      training: { batch_size: 32, learning_rate: 0.003, epochs: 2, seed: 3 },
      security: {
        key: `azurekv://${f.host}/keys/model-key`,
        tee: 'sim',
        broker: { ca: f.caFile, token_file: f.tokenFile },
      },
      data,
      output: { dir: join(f.dir, 'runs', `lineage-${name}`) },
    }),
  );
  return path;
}

/** A copy of the prepared wdbc folder, changed by `change`. */
async function copy(name: string, change: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(f.dir, `lineage-data-${name}`);
  await cp(f.prepared.wdbc, dir, { recursive: true });
  await change(dir);
  return dir;
}

const train = (path: string) => cli(['train', '--config', path, '--home', f.home, '--json']);
const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );
async function releases(): Promise<number> {
  const log = await readFile(join(f.home, 'audit', 'audit.jsonl'), 'utf8');
  return log.split('\n').filter((l) => l.includes('"run.release"')).length;
}

describe('a run with data.lineage_key', () => {
  it('trains on the data its owner signed and records the key in the model card', async () => {
    const r = await train(await config('ok', { dir: f.prepared.wdbc, lineage_key: ownerKey }));
    expect(r.code, r.stderr).toBe(0);
    const card = JSON.parse(await readFile(join(String(r.json?.dir), 'model-card.json'), 'utf8'));
    const pub = createPublicKey(await readFile(ownerKey, 'utf8'));
    expect(card.lineage.verified_by).toBe(keyIdOf(pub));
    // prepare now signs the decrypted split's digest: the one the run computed while reading it.
    const manifest = JSON.parse(await readFile(join(f.prepared.wdbc, 'lineage.json'), 'utf8'));
    const entry = manifest.outputs.find((o: { split?: string }) => o.split === 'train');
    expect(entry.plaintextSha256).toBe(card.data.train.tensor_sha256);
  }, 60_000);

  it('trains on a signed split sealed again (other stored bytes, the same plaintext), checking its plaintext', async () => {
    // Rewrapped since it was signed: the manifest's stored digest no longer matches, so the run
    // hashes the decrypted split and compares it with the signed plaintext digest instead.
    const dir = await copy('sealed-again', async (d) => {
      await rewrapFile(join(d, 'train.tensor.sealed'), { providers: [f.vault] });
    });
    const manifest = JSON.parse(await readFile(join(dir, 'lineage.json'), 'utf8'));
    const entry = manifest.outputs.find((o: { split?: string }) => o.split === 'train');
    const stored = await readFile(join(dir, 'train.tensor.sealed'));
    expect(createHash('sha256').update(stored).digest('hex')).not.toBe(entry.sha256);
    const r = await train(await config('sealed-again', { dir, lineage_key: ownerKey }));
    expect(r.code, r.stderr).toBe(0);
    const card = JSON.parse(await readFile(join(String(r.json?.dir), 'model-card.json'), 'utf8'));
    expect(card.data.train.tensor_sha256).toBe(entry.plaintextSha256);
  }, 60_000);

  it('refuses a split swapped for another file sealed for the same key, and trains nothing', async () => {
    const dir = await copy('swapped', async (d) =>
      cp(join(d, 'validation.tensor.sealed'), join(d, 'train.tensor.sealed')),
    );
    const path = await config('swapped', { dir, lineage_key: ownerKey });
    const r = await train(path);
    expect(r.code, r.stderr).toBe(111);
    expect(r.json?.error).toMatchObject({ code: 'ERR_LINEAGE_INVALID' });
    expect(r.stderr + JSON.stringify(r.json)).toMatch(/train\.tensor\.sealed differs from what it lists/);
    expect(await exists(join(f.dir, 'runs', 'lineage-swapped'))).toBe(false);
    // Without the check the same folder trains: the swap is invisible to the seal.
    const unchecked = await train(await config('swapped-unchecked', { dir }));
    expect(unchecked.code, unchecked.stderr).toBe(0);
  }, 60_000);

  it('refuses, before any key is released, a manifest signed by another key, edited, or missing', async () => {
    const stranger = join(f.dir, 'stranger.pub.pem');
    await writeFile(
      stranger,
      generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string,
    );
    const edited = await copy('edited', async (d) => {
      const p = join(d, 'lineage.json');
      const m = JSON.parse(await readFile(p, 'utf8'));
      m.rows.dropped += 1;
      await writeFile(p, JSON.stringify(m, null, 2));
    });
    const missing = await copy('missing', (d) => rm(join(d, 'lineage.json')));
    const cases = [
      ['stranger', { dir: f.prepared.wdbc, lineage_key: stranger }, /not by the data owner's key/],
      ['edited', { dir: edited, lineage_key: ownerKey }, /changed after it was signed/],
      ['missing', { dir: missing, lineage_key: ownerKey }, /has no lineage\.json/],
    ] as const;
    for (const [name, data, message] of cases) {
      const before = await releases();
      const r = await train(await config(name, data));
      expect(r.code, `${name}: ${r.stderr}`).toBe(111);
      expect(String((r.json?.error as { message?: string })?.message), name).toMatch(message);
      expect(await releases(), name).toBe(before);
      expect(await exists(join(f.dir, 'runs', `lineage-${name}`)), name).toBe(false);
    }
  }, 60_000);

  it('refuses a run that leaves out a signed split or reads one in another role, before any release', async () => {
    const dropped = await copy('dropped', (d) => rm(join(d, 'validation.tensor.sealed')));
    const before = await releases();
    const r = await train(await config('dropped', { dir: dropped, lineage_key: ownerKey }));
    expect(r.code, r.stderr).toBe(111);
    expect(String((r.json?.error as { message?: string })?.message)).toMatch(
      /its validation split validation\.tensor\.sealed is not read by this run/,
    );
    const asTrain = await train(
      await config('as-train', {
        dir: f.prepared.wdbc,
        train: join(f.prepared.wdbc, 'test.tensor.sealed'),
        lineage_key: ownerKey,
      }),
    );
    expect(asTrain.code, asTrain.stderr).toBe(111);
    expect(String((asTrain.json?.error as { message?: string })?.message)).toMatch(
      /reads test\.tensor\.sealed as the train split/,
    );
    expect(await releases()).toBe(before);
  }, 60_000);

  it('refuses a manifest made before plaintext digests were signed, and asks for prepare again', async () => {
    const old = await copy('old-manifest', async (d) => {
      const p = join(d, 'lineage.json');
      const { signature: _, ...m } = JSON.parse(await readFile(p, 'utf8'));
      for (const o of m.outputs) delete o.plaintextSha256;
      await writeFile(p, JSON.stringify(signManifest(m, await loadLineageSigningKey(f.home)), null, 2));
    });
    const r = await train(await config('old-manifest', { dir: old, lineage_key: ownerKey }));
    expect(r.code, r.stderr).toBe(111);
    expect(String((r.json?.error as { message?: string })?.message)).toMatch(
      /no plaintext digest for train\.tensor\.sealed .*prepare the data again/,
    );
    expect(await exists(join(f.dir, 'runs', 'lineage-old-manifest'))).toBe(false);
  }, 60_000);

  it('is checked by evaluate too, and cannot be skipped through the library', async () => {
    const dir = await copy('eval', async (d) =>
      cp(join(d, 'validation.tensor.sealed'), join(d, 'test.tensor.sealed')),
    );
    // The model of the first test, evaluated on a swapped test split.
    const path = await config('eval', { dir, lineage_key: ownerKey });
    const c = JSON.parse(await readFile(path, 'utf8'));
    c.output.dir = join(f.dir, 'runs', 'lineage-ok');
    await writeFile(path, JSON.stringify(c));
    const e = await cli(['evaluate', '--config', path, '--home', f.home, '--json']);
    expect(e.code, e.stderr).toBe(111);
    expect(String((e.json?.error as { message?: string })?.message)).toMatch(/test\.tensor\.sealed differs/);
    const lib = parseRunConfig(c, path);
    await expect(
      runTraining(lib, {
        keys: { providers: [], attestation: undefined, released: [], close: () => {} },
        inputs: await resolveInputs(lib),
        audit: { sink: { record: async () => {} }, actor: 'test' },
        auditDir: join(f.home, 'audit'),
      }),
    ).rejects.toThrow(/sets data\.lineage_key: pass the lineage/);
  }, 60_000);

  it('refuses a truncated manifest, a key that is not Ed25519 and a missing key file, naming each', async () => {
    const truncated = await copy('truncated', async (d) => {
      const p = join(d, 'lineage.json');
      const text = await readFile(p, 'utf8');
      await writeFile(p, text.slice(0, Math.floor(text.length / 2)));
    });
    const rsa = join(f.dir, 'rsa.pub.pem');
    await writeFile(
      rsa,
      generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({
        type: 'spki',
        format: 'pem',
      }) as string,
    );
    const cases = [
      ['truncated', { dir: truncated, lineage_key: ownerKey }, 'ERR_DATA_MALFORMED', /lineage\.json/],
      [
        'rsa-key',
        { dir: f.prepared.wdbc, lineage_key: rsa },
        'ERR_AUDIT_SIGNING_KEY',
        /rsa\.pub\.pem .*not an Ed25519/,
      ],
      [
        'no-key',
        { dir: f.prepared.wdbc, lineage_key: join(f.dir, 'nowhere.pem') },
        'ERR_AUDIT_SIGNING_KEY',
        /nowhere\.pem/,
      ],
    ] as const;
    for (const [name, data, code, message] of cases) {
      const before = await releases();
      const r = await train(await config(name, data));
      expect(r.code, `${name}: ${r.stderr}`).not.toBe(0);
      expect(r.json?.error, name).toMatchObject({ code });
      expect(String((r.json?.error as { message?: string })?.message), name).toMatch(message);
      expect(await releases(), name).toBe(before);
      expect(await exists(join(f.dir, 'runs', `lineage-${name}`)), name).toBe(false);
    }
  }, 60_000);

  it('needs data.dir, and says so naming the field', async () => {
    const r = await train(
      await config('no-dir', { train: join(f.prepared.wdbc, 'train.tensor.sealed'), lineage_key: ownerKey }),
    );
    expect(r.code).toBe(100);
    expect(r.stderr + JSON.stringify(r.json)).toMatch(/data\.lineage_key/);
  });

  it('checks exec mode inputs, decrypted in memory, before the command can read them', async () => {
    const dir = await copy('exec', async (d) =>
      cp(join(d, 'validation.tensor.sealed'), join(d, 'train.tensor.sealed')),
    );
    const path = await config('exec', { dir, lineage_key: ownerKey });
    const marker = join(f.dir, 'exec-ran');
    const r = await cli(['train', '--config', path, '--home', f.home, '--exec', '--', 'touch', marker]);
    expect(r.code, r.stderr).toBe(111);
    expect(r.stderr).toMatch(/train\.tensor\.sealed differs from what it lists/);
    expect(await exists(marker)).toBe(false);
    const ok = await cli([
      'train',
      '--config',
      await config('exec-ok', { dir: f.prepared.wdbc, lineage_key: ownerKey }),
      '--home',
      f.home,
      '--exec',
      '--',
      'touch',
      marker,
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(await exists(marker)).toBe(true);
  }, 60_000);
});
