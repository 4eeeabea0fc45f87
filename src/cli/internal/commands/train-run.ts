import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { prepareRuntimeKey } from '../../../broker/client/runtime-key.js';
import { SealtrainError } from '../../../errors/index.js';
import {
  checkRecordedModel,
  evaluateModel,
  type KeyAccess,
  listCheckpoints,
  loadSplit,
  openSealedModel,
  predictRows,
  RUN_FILES,
  type RunConfig,
  resolveInputs,
  runExec,
  runTraining,
  SIMULATION_WARNING,
  type StepProgress,
} from '../../../run/index.js';
import type { Output } from '../output.js';
import type { Session } from '../session.js';
import { keysFor } from './train.js';

/** A training progress bar on a terminal (nothing with --json or without a TTY). */
function trainingBar(out: Output) {
  if (out.json || !process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      format: 'epoch {epoch}/{epochs} [{bar}] {percentage}% | loss {loss} | ETA {eta}s',
      stream: process.stderr,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let epochShown = -1;
  return {
    update: (p: StepProgress) => {
      if (!started || epochShown !== p.epoch) {
        if (started) bar.stop();
        bar.start(p.total, 0, { epoch: p.epoch + 1, epochs: p.epochs, loss: '…' });
        started = true;
        epochShown = p.epoch;
      }
      bar.update(p.done, { loss: p.loss.toFixed(4) });
    },
    stop: () => started && bar.stop(),
  };
}

/**
 * Starts making the attestation's ephemeral key when this command will attest (the inputs are
 * sealed for attested release, or it opens what was sealed for an `azurekv:` key): the slowest
 * step of the release then runs while the config, the inputs and the broker are being reached.
 */
function attestSoon(config: RunConfig, opensOutputs: boolean): void {
  if (config.security.attestation || (opensOutputs && config.security.key.startsWith('azurekv:')))
    prepareRuntimeKey();
}

function teeOf(keys: KeyAccess): string {
  return keys.attestation?.type ?? 'none';
}

/** `sealtrain train --config`: the run, reported. */
export async function trainWithConfig(
  session: Session,
  out: Output,
  config: RunConfig,
  flags: { resume: boolean; allowRollback: boolean; force: boolean },
): Promise<void> {
  attestSoon(config, flags.resume);
  const inputs = await resolveInputs(config);
  const sealedInputs = [inputs.train, inputs.validation, inputs.test].filter(
    (x): x is string => x !== undefined,
  );
  // Resuming opens the newest sealed checkpoint: the key version it was sealed for is released too.
  // The inputs are read from disk while the release is under way.
  const newest = flags.resume ? (await listCheckpoints(config.output.dir))[0]?.path : undefined;
  const keysSoon = keysFor(session, out, config, newest ? [...sealedInputs, newest] : sealedInputs);
  keysSoon.then(
    (k) =>
      k.attestation &&
      out.note(
        `Attested (${k.attestation.type}) by ${k.attestation.issuer}; released ${k.released.map((x) => `${x.uri}/${x.version}`).join(', ') || 'no input key'}.`,
      ),
    () => {},
  );
  const bar = trainingBar(out);
  try {
    const r = await runTraining(config, {
      keys: keysSoon,
      inputs,
      audit: await session.auditContext(),
      auditDir: session.auditDir,
      ...flags,
      warn: (message) => out.note(`Warning: ${message}`),
      onProgress: (p) => bar.update(p),
      onEpoch: (e) => {
        bar.stop();
        out.note(
          `epoch ${e.epoch}: loss ${e.loss.toFixed(4)}${e.validationLoss !== undefined ? `, validation loss ${e.validationLoss.toFixed(4)}` : ''}`,
        );
      },
    });
    const keys = await keysSoon;
    bar.stop();
    const sim = keys.attestation?.simulated === true;
    const m = r.metrics;
    out.result(
      {
        run_id: r.runId,
        dir: r.dir,
        tee: teeOf(keys),
        ...(sim ? { warning: SIMULATION_WARNING } : {}),
        epochs: r.epochs,
        steps: r.steps,
        stopped_early: r.stoppedEarly,
        ...(r.resumedFrom !== undefined ? { resumed_from: r.resumedFrom } : {}),
        checkpoints: r.checkpoints,
        metrics: m,
        model: r.model,
        card: join(r.dir, RUN_FILES.card),
        released: keys.released,
      },
      [
        `${sim ? 'SIMULATION — ' : ''}Trained run ${r.runId} for ${r.epochs} epochs (${r.steps} steps)${r.stoppedEarly ? ', stopped early' : ''}${r.resumedFrom !== undefined ? `, resumed from checkpoint ${r.resumedFrom}` : ''}.`,
        `Metrics: ${Object.entries(m)
          .map(([k, v]) => `${k} ${v === null ? '–' : v.toFixed(4)}`)
          .join(', ')}.`,
        `Sealed model ${r.model?.path} for ${config.security.key}; model card ${join(r.dir, RUN_FILES.card)}; metrics ${join(r.dir, RUN_FILES.metrics)}.`,
      ].join('\n'),
    );
  } finally {
    bar.stop();
    (await keysSoon.catch(() => undefined))?.close();
  }
}

/** `sealtrain train --exec -- <command…>`: returns the command's exit status. */
export async function execWithConfig(
  session: Session,
  out: Output,
  config: RunConfig,
  command: readonly string[],
): Promise<number> {
  attestSoon(config, false);
  const inputs = await resolveInputs(config);
  const files = [inputs.train, inputs.validation, inputs.test, ...inputs.files].filter(
    (x): x is string => x !== undefined,
  );
  const keys = await keysFor(session, out, config, files);
  try {
    const r = await runExec({
      command,
      inputs: files,
      providers: keys.providers,
      runDir: config.output.dir,
      sealTo: config.security.key,
      audit: await session.auditContext(),
    });
    out.result(
      { exit_code: r.exitCode, signal: r.signal, outputs: r.outputs, tee: teeOf(keys) },
      r.exitCode === 0
        ? `${command[0]} exited 0; sealed ${r.outputs.length} output file(s) into ${join(config.output.dir, 'outputs')}; the private folder was wiped.`
        : `${command[0]} exited ${r.exitCode}${r.signal ? ` (${r.signal})` : ''}; nothing was sealed and the private folder was wiped.`,
    );
    return r.exitCode;
  } finally {
    keys.close();
  }
}

/**
 * Releases the keys of the inputs and of the model (the exact key version it was sealed for),
 * opens the model in memory, and checks it against the run's `run.model` audit entry.
 */
async function modelAndKeys(
  session: Session,
  out: Output,
  config: RunConfig,
  modelPath: string | undefined,
  inputs: string[],
) {
  attestSoon(config, true);
  const model = modelPath ?? join(config.output.dir, RUN_FILES.model);
  const keys = await keysFor(session, out, config, [...inputs, model]);
  try {
    const opened = await openSealedModel(model, keys.providers);
    const recorded = await checkRecordedModel(session.auditDir, opened.header.run_id, opened.sha256, model);
    if (recorded === 'unrecorded')
      out.note(
        `Note: the audit log in ${session.auditDir} does not record run ${opened.header.run_id}; only the seal vouches for ${model}.`,
      );
    return { keys, model: opened, path: model, recorded };
  } catch (error) {
    keys.close();
    throw error;
  }
}

/** `sealtrain evaluate`. */
export async function evaluateWithConfig(
  session: Session,
  out: Output,
  config: RunConfig,
  o: { model?: string; split?: string },
): Promise<void> {
  const split = o.split ?? 'test';
  if (split !== 'train' && split !== 'validation' && split !== 'test')
    throw new SealtrainError('ERR_USAGE_INVALID', `--split takes train, validation or test, not "${split}".`);
  const inputs = await resolveInputs(config);
  const file = inputs[split];
  if (!file) throw new SealtrainError('ERR_IO_NOT_FOUND', `The run config names no ${split} split.`);
  const { keys, model, path } = await modelAndKeys(session, out, config, o.model, [file]);
  try {
    const data = await loadSplit(file, keys.providers);
    try {
      const m = evaluateModel(model, data.dataset);
      out.result(
        {
          model: path,
          split,
          ...m,
          tee: teeOf(keys),
          ...(keys.attestation?.simulated ? { warning: SIMULATION_WARNING } : {}),
        },
        `${keys.attestation?.simulated ? 'SIMULATION — ' : ''}${split}: loss ${m.loss.toFixed(4)}${m.accuracy !== null ? `, accuracy ${(m.accuracy * 100).toFixed(2)} %` : ''} over ${m.rows} rows (model ${path}, opened in memory only).`,
      );
    } finally {
      data.wipe();
    }
  } finally {
    keys.close();
  }
}

/** `sealtrain predict`: one JSON line per row on stdout, the summary on stderr. */
export async function predictWithConfig(
  session: Session,
  out: Output,
  config: RunConfig,
  o: { model?: string; input?: string; limit?: string },
): Promise<void> {
  const limit = o.limit === undefined ? undefined : Number(o.limit);
  if (limit !== undefined && !(Number.isSafeInteger(limit) && limit > 0))
    throw new SealtrainError('ERR_USAGE_INVALID', `--limit must be a positive integer, not "${o.limit}".`);
  const input = o.input ?? '';
  const { keys, model, path } = await modelAndKeys(session, out, config, o.model, [input]);
  try {
    const data = await loadSplit(input, keys.providers);
    try {
      const rows = Math.min(data.dataset.rows, limit ?? Number.POSITIVE_INFINITY);
      const predictions = predictRows(model, data.dataset.features, rows);
      if (out.json) out.result({ model: path, tee: teeOf(keys), rows, predictions }, '');
      else {
        for (const p of predictions) process.stdout.write(`${JSON.stringify(p)}\n`);
        out.note(
          `${keys.attestation?.simulated ? 'SIMULATION — ' : ''}Predicted ${rows} rows with ${path} (opened in memory only).`,
        );
      }
    } finally {
      data.wipe();
    }
  } finally {
    keys.close();
  }
}
