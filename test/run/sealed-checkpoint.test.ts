// writeSealedCheckpoint: the file appears only after what it must follow, with its audit record;
// when that fails, or sealing does, nothing is written and no temp file is left.

import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalKeyring } from '../../src/kms/index.js';
import type { CheckpointContents } from '../../src/run/checkpoint-file.js';
import { writeSealedCheckpoint } from '../../src/run/checkpoints.js';
import { readSealedCheckpoint } from '../../src/run/index.js';

let dir: string;
let ring: LocalKeyring;
const records: { action: string; file?: { path: string; sha256: string } }[] = [];
const target = (key = 'local:owner') => ({
  key,
  providers: [ring],
  audit: {
    sink: { record: async (e: (typeof records)[number]) => void records.push(e) },
    actor: 'test',
  },
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealtrain-sealed-checkpoint-'));
  ring = await LocalKeyring.init(join(dir, 'keyring'), randomBytes(16), { scryptCost: 1024 });
  await ring.create('owner');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const contents = (kind: 'checkpoint' | 'model'): CheckpointContents => ({
  header: {
    version: 1,
    kind,
    run_id: '0123456789abcdef',
    counter: 1,
    training_sha256: 'ab'.repeat(32),
    model: { architecture: 'mlp', input_size: 2, output_size: 2 },
    engine: 'sealtrain test',
    epoch: 1,
    position: 0,
    step: 10,
    seed: 7,
    created: '2026-11-24T00:00:00.000Z',
  },
  params: Float32Array.from({ length: 300_000 }, (_, i) => Math.sin(i)),
  moment1: new Float32Array(300_000).fill(0.5),
  moment2: new Float32Array(300_000).fill(1e-6),
});

async function folder(name: string): Promise<string> {
  const f = join(dir, name);
  await mkdir(f);
  return f;
}

describe('writeSealedCheckpoint', () => {
  it('writes after what it must follow, leaves no temp file, and records the sealed bytes', async () => {
    const f = await folder('ordered');
    const path = join(f, 'ckpt-000001.sealed');
    let release: () => void = () => {};
    const after = new Promise<void>((resolve) => {
      release = resolve;
    });
    const writing = writeSealedCheckpoint(path, contents('checkpoint'), target(), after);
    // Sealed and waiting: the checkpoint is not there yet.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await readdir(f)).not.toContain('ckpt-000001.sealed');
    release();
    const sha256 = await writing;
    expect(await readdir(f)).toEqual(['ckpt-000001.sealed']);
    expect(sha256).toBe(
      createHash('sha256')
        .update(await readFile(path))
        .digest('hex'),
    );
    expect(records.at(-1)).toMatchObject({ action: 'run.checkpoint', file: { path, sha256 } });
    const opened = await readSealedCheckpoint(path, [ring]);
    expect(opened.params).toEqual(contents('checkpoint').params);
  });

  it('writes nothing, and removes its temp file, when what it follows fails', async () => {
    const f = await folder('after-fails');
    const before = records.length;
    const failure = Object.assign(new Error('the checkpoint before failed'), { code: 'ERR_IO_NO_SPACE' });
    await expect(
      writeSealedCheckpoint(join(f, 'model.sealed'), contents('model'), target(), Promise.reject(failure)),
    ).rejects.toBe(failure);
    expect(await readdir(f)).toEqual([]);
    expect(records.length).toBe(before);
  });

  it('writes nothing, and removes its temp file, when the bytes cannot be sealed', async () => {
    const f = await folder('seal-fails');
    await expect(
      writeSealedCheckpoint(join(f, 'model.sealed'), contents('model'), target('local:nobody')),
    ).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_KMS_/) });
    expect(await readdir(f)).toEqual([]);
  });

  it('fails with the I/O error naming the file when its folder is gone', async () => {
    const path = join(dir, 'missing', 'ckpt-000001.sealed');
    await expect(writeSealedCheckpoint(path, contents('checkpoint'), target())).rejects.toMatchObject({
      code: 'ERR_IO_NOT_FOUND',
      message: expect.stringContaining(path),
    });
  });
});
