import { join } from 'node:path';
import cliProgress from 'cli-progress';
import type { AuditSink } from '../../../audit/index.js';
import { prepareRuntimeKey } from '../../../broker/client/runtime-key.js';
import { SealtrainError } from '../../../errors/index.js';
// The monitor's modules themselves, not its index: a run without --alerts does not load the alert
// rules' YAML parser, the alert engine, charts or the report.
import { RunMonitor } from '../../../monitor/run-monitor.js';
import { MONITOR_FILES } from '../../../monitor/run-record.js';
import {
  checkAgainstLineage,
  checkRecordedModel,
  evaluateModel,
  type KeyAccess,
  listCheckpoints,
  loadSplit,
  openSealedModel,
  openTrustedLineage,
  predictRows,
  RUN_FILES,
  type RunConfig,
  type RunInputs,
  type RunManifest,
  resolveInputs,
  runExec,
  runTraining,
  SIMULATION_WARNING,
  type StepProgress,
  type TrustedLineage,
} from '../../../run/index.js';
import { EXIT_INTERRUPTED } from '../../exit-codes.js';
import type { Output } from '../output.js';
import type { Session } from '../session.js';
import type { LiveRunAlerts } from './live-run-alerts.js';
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
  // With MAA, reading the config started the key when this machine needs one (not in a vTPM).
  if (config.security.maa) return;
  if (config.security.attestation || (opensOutputs && config.security.key.startsWith('azurekv:')))
    prepareRuntimeKey('ec');
}

/** `data.lineage_key`'s signed manifest, verified before any key is released; none without one. */
async function trustedLineage(config: RunConfig, inputs: RunInputs): Promise<TrustedLineage | undefined> {
  const key = config.data.lineage_key;
  return key === undefined ? undefined : openTrustedLineage(inputs, key);
}

function teeOf(keys: KeyAccess): string {
  return keys.attestation?.type ?? 'none';
}

/**
 * While a run trains, the first SIGINT, SIGTERM or SIGHUP asks it to stop between steps and seal
 * a checkpoint (then exit 130); a second one exits at once, as any other command does.
 */
function catchInterrupt(): { signal: AbortSignal; by: NodeJS.Signals | undefined; restore: () => void } {
  const controller = new AbortController();
  const names = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const saved = new Map(names.map((n) => [n, process.listeners(n)]));
  const state = {
    signal: controller.signal,
    by: undefined as NodeJS.Signals | undefined,
    restore: () => {
      for (const n of names) {
        process.off(n, onSignal);
        for (const l of saved.get(n) ?? []) if (!process.listeners(n).includes(l)) process.on(n, l);
      }
    },
  };
  function onSignal(signal: NodeJS.Signals) {
    if (state.by !== undefined) {
      state.restore();
      process.kill(process.pid, signal);
      return;
    }
    state.by = signal;
    process.stderr.write(
      `sealtrain: ${signal}: sealing a checkpoint and stopping (${signal} again stops at once).\n`,
    );
    controller.abort();
  }
  for (const n of names) {
    process.removeAllListeners(n);
    process.on(n, onSignal);
  }
  return state;
}

/** `sealtrain train --config`: the run, reported. */
export async function trainWithConfig(
  session: Session,
  out: Output,
  config: RunConfig,
  flags: {
    resume: boolean;
    allowRollback: boolean;
    force: boolean;
    metricsPort?: number | undefined;
    alerts?: string | undefined;
  },
): Promise<number | undefined> {
  const { metricsPort, alerts, ...runFlags } = flags;
  // A bad rules file, a missing webhook secret or a port in use fail before any key is released.
  const alerting = alerts === undefined ? undefined : await import('./live-run-alerts.js');
  const rules = alerting && alerts !== undefined ? await alerting.loadAlertRules(alerts) : undefined;
  const audit = await session.auditContext();
  // Alert lines go to stderr even with --json: they are for people, and stdout stays one object.
  const live =
    rules && alerting
      ? new alerting.LiveRunAlerts(rules, audit, session.auditDir, (line) =>
          process.stderr.write(`${line}\n`),
        )
      : undefined;
  const monitor = new RunMonitor({
    ...(metricsPort !== undefined ? { metricsPort } : {}),
    ...(live ? { alerts: (dir: string, manifest: RunManifest) => live.start(dir, manifest) } : {}),
    warn: (message) => out.note(`Warning: ${message}`),
  });
  const url = await monitor.listen();
  if (url) out.note(`Metrics: ${url}`);
  if (rules) out.note(`Alert rules: ${rules.rules.length} from ${alerts}.`);
  try {
    return await trainMonitored(session, out, config, runFlags, monitor, live, audit);
  } finally {
    await monitor.close();
  }
}

async function trainMonitored(
  session: Session,
  out: Output,
  config: RunConfig,
  flags: { resume: boolean; allowRollback: boolean; force: boolean },
  monitor: RunMonitor,
  live: LiveRunAlerts | undefined,
  audit: { readonly sink: AuditSink; readonly actor: string },
): Promise<number | undefined> {
  attestSoon(config, flags.resume);
  const inputs = await resolveInputs(config);
  const sealedInputs = [inputs.train, inputs.validation, inputs.test].filter(
    (x): x is string => x !== undefined,
  );
  // Resuming opens the newest sealed checkpoint: the key version it was sealed for is released too.
  // The inputs are read from disk while the release is under way.
  const newest = flags.resume ? (await listCheckpoints(config.output.dir))[0]?.path : undefined;
  // Data its owner did not sign is refused before any key is released.
  const lineage = await trustedLineage(config, inputs);
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
  const interrupt = catchInterrupt();
  // The run reads its inputs at once: the key files and the attestation's first requests go first.
  await keysSoon.opened;
  try {
    const r = await runTraining(config, {
      keys: keysSoon,
      inputs,
      ...(lineage ? { lineage } : {}),
      audit: live ? { sink: live.sink, actor: audit.actor } : audit,
      auditDir: session.auditDir,
      ...flags,
      observer: monitor,
      signal: live ? AbortSignal.any([live.stop.signal, interrupt.signal]) : interrupt.signal,
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
    if (!r.interrupted && live?.stopped)
      process.stderr.write(
        `Note: alert rule "${live.stopped.rule}" asked to stop after the last step; the run had already finished.\n`,
      );
    if (r.interrupted && interrupt.by && !live?.stopped) {
      bar.stop();
      process.stderr.write(
        `sealtrain: interrupted by ${interrupt.by} after ${r.steps} steps; checkpoint ${r.checkpoints} was sealed. Continue with --resume.\n`,
      );
      return EXIT_INTERRUPTED;
    }
    if (r.interrupted && live?.stopped) {
      const s = live.stopped;
      throw new SealtrainError(
        'ERR_RUN_STOPPED_BY_ALERT',
        `Alert rule "${s.rule}" stopped the run after ${r.steps} steps: ${s.message} Checkpoint ${r.checkpoints} was sealed; see ${join(r.dir, MONITOR_FILES.alerts)}, and continue with --resume once the cause is dealt with.`,
        { details: { rule: s.rule, run_id: r.runId, checkpoint: r.checkpoints } },
      );
    }
    const sim = keys.attestation?.simulated === true;
    const m = r.metrics;
    const restored = r.card?.training.restored_best_epoch;
    out.result(
      {
        run_id: r.runId,
        dir: r.dir,
        tee: teeOf(keys),
        ...(sim ? { warning: SIMULATION_WARNING } : {}),
        epochs: r.epochs,
        steps: r.steps,
        stopped_early: r.stoppedEarly,
        ...(restored !== undefined ? { restored_best_epoch: restored } : {}),
        ...(r.resumedFrom !== undefined ? { resumed_from: r.resumedFrom } : {}),
        checkpoints: r.checkpoints,
        metrics: m,
        model: r.model,
        card: join(r.dir, RUN_FILES.card),
        released: keys.released,
        ...(live ? { alerts: live.fired() } : {}),
      },
      [
        `${sim ? 'SIMULATION — ' : ''}Trained run ${r.runId} for ${r.epochs} epochs (${r.steps} steps)${r.stoppedEarly ? ', stopped early' : ''}${restored !== undefined ? `; the model has epoch ${restored}'s weights (best validation loss)` : ''}${r.resumedFrom !== undefined ? `, resumed from checkpoint ${r.resumedFrom}` : ''}.`,
        `Metrics: ${Object.entries(m)
          .map(([k, v]) => `${k} ${v === null ? '–' : v.toFixed(4)}`)
          .join(', ')}.`,
        `Sealed model ${r.model?.path} for ${config.security.key}; model card ${join(r.dir, RUN_FILES.card)}; metrics ${join(r.dir, RUN_FILES.metrics)}; report: sealtrain report ${r.dir}.`,
      ].join('\n'),
    );
    return undefined;
  } finally {
    interrupt.restore();
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
  // Inputs its owner did not sign are refused before any key is released; each is checked again,
  // decrypted, before the command can read it.
  const lineage = await trustedLineage(config, inputs);
  const keys = await keysFor(session, out, config, files);
  try {
    const r = await runExec({
      command,
      inputs: files,
      providers: keys.providers,
      runDir: config.output.dir,
      sealTo: config.security.key,
      lineage,
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
  const lineage = await trustedLineage(config, inputs);
  const { keys, model, path } = await modelAndKeys(session, out, config, o.model, [file]);
  try {
    const data = await loadSplit(file, keys.providers);
    try {
      if (lineage)
        checkAgainstLineage(lineage, [{ path: data.path, sealed: data.sealed, sha256: data.sha256 }]);
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
