import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CheckpointContents, decodeCheckpoint, encodeCheckpoint } from '../../src/run/index.js';
import { rejectsWith } from '../helpers/rejects.js';

const contents = (n: number, m: number): CheckpointContents => ({
  header: {
    version: 1,
    kind: 'checkpoint',
    run_id: '0123456789abcdef',
    counter: 3,
    training_sha256: 'ab'.repeat(32),
    model: { architecture: 'mlp', input_size: 2, output_size: 2 },
    engine: 'sealtrain test',
    epoch: 2,
    position: 64,
    step: 40,
    seed: 7,
    created: '2026-11-23T00:00:00.000Z',
    best_validation_loss: 0.25,
    epochs_without_improvement: 1,
  },
  params: Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 3),
  moment1: Float32Array.from({ length: m }, (_, i) => i / 7),
  moment2: Float32Array.from({ length: m }, (_, i) => i * 1e-9),
});

const fails = (bytes: Uint8Array, pattern: RegExp) =>
  rejectsWith(
    Promise.resolve().then(() => decodeCheckpoint(bytes, 'ckpt.bin')),
    'ERR_RUN_CHECKPOINT_INVALID',
  ).then((e) => expect(e.message).toMatch(pattern));

describe('checkpoint file v1', () => {
  it('stores float32 little-endian wherever the arrays lie, and decodes into copies of its own', () => {
    const backing = Float32Array.of(9, 1, -2, 0.5);
    const c = {
      ...contents(0, 0),
      params: backing.subarray(1),
      moment1: new Float32Array(0),
      moment2: new Float32Array(0),
    };
    const bytes = encodeCheckpoint(c);
    const headerLength = bytes.readUInt32LE(8);
    // 1.0f, -2.0f and 0.5f as the spec's little-endian float32, not the 9 before the view.
    expect(bytes.subarray(12 + headerLength, 12 + headerLength + 12).toString('hex')).toBe(
      '0000803f000000c00000003f',
    );
    const decoded = decodeCheckpoint(bytes, 'ckpt.bin');
    bytes.fill(0); // the caller wipes the decrypted bytes: the decoded weights must not be views of them
    expect([...decoded.params]).toEqual([1, -2, 0.5]);
  });

  it('round-trips every float bit for bit, with the header', () => {
    fc.assert(
      fc.property(
        fc.float32Array({ maxLength: 200 }),
        fc.float32Array({ maxLength: 50 }),
        (params, moment) => {
          const c = { ...contents(0, 0), params, moment1: moment, moment2: moment };
          const back = decodeCheckpoint(encodeCheckpoint(c), 'x');
          expect(Buffer.from(back.params.buffer).equals(Buffer.from(params.slice().buffer))).toBe(true);
          expect(Buffer.from(back.moment2.buffer).equals(Buffer.from(moment.slice().buffer))).toBe(true);
          expect(back.header).toEqual(c.header);
        },
      ),
    );
  });

  it('carries the best weights (restore_best) as a fourth array, and refuses a table that lies about them', async () => {
    const c = { ...contents(30, 30), best: Float32Array.from({ length: 30 }, (_, i) => -i) };
    const back = decodeCheckpoint(encodeCheckpoint(c), 'x');
    expect(back.best).toEqual(c.best);
    expect(decodeCheckpoint(encodeCheckpoint(contents(30, 30)), 'x').best).toBeUndefined();
    // A well-formed file (checksum right) whose best array is not the parameters' length.
    const short = encodeCheckpoint({ ...c, best: c.best.subarray(0, 29) });
    await fails(short, /best weights are not as many as the parameters/);
    const model = encodeCheckpoint({ ...c, header: { ...c.header, kind: 'model' } });
    await fails(model, /a model carries no best weights/);
  });

  it('refuses a flipped bit anywhere, a truncation, and another magic, naming the file', async () => {
    const bytes = encodeCheckpoint(contents(100, 100));
    for (const at of [0, 9, 20, bytes.length - 100, bytes.length - 1]) {
      const t = Buffer.from(bytes);
      t[at] = (t[at] ?? 0) ^ 4;
      await fails(t, /ckpt\.bin is not a valid checkpoint/);
    }
    await fails(bytes.subarray(0, bytes.length - 5), /checksum/);
    await fails(Buffer.alloc(10), /no checkpoint magic/);
  });
});
