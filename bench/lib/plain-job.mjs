// The confidential benchmark's anchor: the training job without security. Plaintext data in,
// metrics out, an unencrypted checkpoint and model written atomically; `trainOnly` leaves out the
// writes (the engine's bare epochs). Run in the benchmark's process, or as a process of its own
// (`node plain-job.mjs '<json options>'`) to compare with a `sealtrain train` process.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
// Only what the job needs, as a script of its own would import it: the engine, the file reader
// `sealtrain` uses for plaintext inputs (16 MiB pieces side by side: fs.readFile would make this
// anchor about 70 ms slower, and the overhead look smaller), the tensor-file reader (which
// verifies every checksum, as `sealtrain` does, hashing each piece as it arrives, as `sealtrain`
// does) and the checkpoint encoder.
import { readTensorFile, TensorFileHasher } from '../../dist/data/tensor-file.js';
import { encodeCheckpoint } from '../../dist/run/checkpoint-file.js';
import { markPhase } from '../../dist/run/phase-marks.js';
import { readWholeFile, writeFileAtomic } from '../../dist/store/index.js';
import {
  checkDataset,
  Network,
  parseModelConfig,
  parseTrainingConfig,
  Trainer,
} from '../../dist/train/index.js';

/** Runs the job; resolves to its wall time in seconds. */
export async function plainJob({ data, out, model, training, trainOnly = false }) {
  const started = process.hrtime.bigint();
  const spec = parseModelConfig(model);
  const trainingSpec = parseTrainingConfig(training);
  const path = join(data, 'train.tensor');
  let hashed;
  const watch = (buffer) => {
    hashed = new TensorFileHasher(buffer);
    return (end) => hashed.advance(end);
  };
  const reading = readWholeFile(path, { watch });
  // As `sealtrain train` does: the initial weights are drawn while the file is read and hashed on
  // the thread pool, and the data is checked once, not every epoch.
  const network = Network.create(spec, 1);
  const bytes = await reading;
  await hashed?.finish();
  const file = readTensorFile(bytes, { source: path, hashed });
  markPhase('data'); // as `sealtrain train` marks its phases (bench/confidential.mjs compares them)
  const features = file.tensors.get('features');
  const dataset = {
    features: features.data,
    labels: file.tensors.get('labels').data,
    rows: features.shape[0],
  };
  checkDataset(spec, dataset);
  const trainer = new Trainer(network, { training: trainingSpec });
  const lines = [];
  markPhase('train');
  for (let e = 0; e < trainingSpec.epochs; e++) {
    await trainer.trainEpoch(dataset, {
      checked: true,
      onStep: (st) => lines.push(JSON.stringify({ type: 'step', loss: st.loss })),
    });
    markPhase('epoch', { epoch: e + 1 });
  }
  markPhase('trained');
  if (!trainOnly) {
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'metrics.jsonl'), `${lines.join('\n')}\n`);
    const s = trainer.state();
    const header = {
      version: 1,
      kind: 'checkpoint',
      run_id: 'plain',
      counter: 1,
      training_sha256: '0',
      model,
      engine: 'x',
      epoch: s.epoch,
      position: s.position,
      step: s.step,
      seed: training.seed,
      created: new Date().toISOString(),
    };
    const params = trainer.network.params;
    await writeFileAtomic(
      join(out, 'checkpoint.bin'),
      encodeCheckpoint({ header, params, moment1: s.moment1, moment2: s.moment2 }),
    );
    markPhase('checkpoint', { counter: 1 });
    const empty = new Float32Array(0);
    await writeFileAtomic(
      join(out, 'model.bin'),
      encodeCheckpoint({
        header: { ...header, kind: 'model', counter: 0 },
        params,
        moment1: empty,
        moment2: empty,
      }),
    );
    markPhase('model');
  }
  markPhase('end');
  return Number(process.hrtime.bigint() - started) / 1e9;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href)
  await plainJob(JSON.parse(process.argv[2]));
