import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { type AuditEntry, verifyAuditLog } from '../audit/index.js';
import { verifyManifest } from '../data/lineage.js';
import { isSealtrainError } from '../errors/index.js';
import { type ModelCard, SIMULATION_WARNING } from '../run/model-card.js';
import { listCheckpoints, RUN_FILES } from '../run/run-folder.js';
import { type AlertRecord, isAuthChallenge, type RecordedRun } from './run-record.js';

/** The outcome of one check the report made. */
export type CheckStatus = 'ok' | 'failed' | 'not-checked';

/** One check: what was verified, how it came out, and how to repeat it offline. */
export interface ReportCheck {
  readonly name: string;
  readonly status: CheckStatus;
  /** A sentence that says what was found (or why it was not checked). */
  readonly detail: string;
  /** The command that repeats the check offline, when there is one. */
  readonly reverify?: string;
}

/** A key release, from the run's audit log or the broker's. */
export interface ReportRelease {
  readonly time: string;
  readonly source: 'run' | 'broker';
  readonly outcome: 'allowed' | 'denied';
  readonly key: string | undefined;
  readonly code: string | undefined;
}

/** A checkpoint file and whether the audit log vouches for it. */
export interface ReportCheckpoint {
  readonly counter: number;
  readonly path: string;
  readonly sha256: string;
  /** The audit entry that recorded it (epoch, step), or undefined when none does. */
  readonly recorded:
    | { readonly epoch: number | undefined; readonly step: number | undefined; readonly time: string }
    | undefined;
}

/**
 * What `sealtrain report` says about a run, as data: `--format json` prints it, and the HTML and
 * Markdown renderers read only this. No keys, no data: hashes, claims, metrics and outcomes.
 */
export interface RunReport {
  readonly version: 1;
  /** When the report was made: the checks below hold as of then. */
  readonly generated: string;
  readonly tool: { readonly name: 'sealtrain'; readonly version: string };
  readonly run: {
    readonly id: string;
    readonly dir: string;
    readonly created: string;
    readonly ended: string;
    readonly tee: string;
    /** True when the simulated TEE ran it: nothing about hardware was proved. */
    readonly simulated: boolean;
    readonly finished: boolean;
    readonly config_sha256: string;
    readonly training_sha256: string;
  };
  readonly warning: string | undefined;
  readonly model: ModelCard['model'] | undefined;
  readonly training: {
    readonly epochs: number;
    readonly steps: number;
    readonly stopped_early: boolean | undefined;
    readonly final_metrics: Readonly<Record<string, number | null>>;
    readonly epochs_table: readonly {
      readonly epoch: number;
      readonly loss: number | null;
      readonly accuracy: number | null;
      readonly validation_loss: number | null;
      readonly validation_accuracy: number | null;
      readonly seconds: number;
    }[];
  };
  readonly resources: {
    readonly samples: number;
    readonly peak_rss_bytes: number | null;
    readonly peak_heap_used_bytes: number | null;
    readonly mean_cpu_percent: number | null;
    readonly max_event_loop_delay_ms: number | null;
  };
  readonly data: Readonly<
    Record<string, { path: string; tensor_sha256: string; sealed: boolean; rows: number }>
  >;
  readonly lineage: { readonly path: string; readonly sha256: string } | null;
  readonly attestation: Readonly<Record<string, unknown>> | null;
  readonly keys_released: readonly { readonly uri: string; readonly version: string }[];
  readonly sealed_to: string | undefined;
  readonly releases: readonly ReportRelease[];
  readonly checkpoints: readonly ReportCheckpoint[];
  readonly alerts: readonly AlertRecord[];
  readonly checks: readonly ReportCheck[];
  /**
   * True when no check failed and the audit log itself verified: without the signed audit log
   * nothing outside the run folder vouches for it.
   */
  readonly verified: boolean;
}

/** Options for {@link buildRunReport}. */
export interface BuildReportOptions {
  /** The sealtrain home that ran it, to verify the lineage signature with its key. */
  readonly home?: string;
  readonly toolVersion?: string;
  readonly now?: () => Date;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function fileSha256(path: string): Promise<string | undefined> {
  try {
    return sha256(await readFile(path));
  } catch {
    return undefined;
  }
}

const q = (s: string) => (/^[\w./:@-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`);

/**
 * Builds the report of a recorded run, re-verifying what can be verified offline without keys:
 * the audit logs' hash chains and signed heads, the sealed model's and each checkpoint's SHA-256
 * against the audit log and the model card, and the lineage manifest's signature and file hashes.
 * A failed check is reported, not thrown.
 */
export async function buildRunReport(run: RecordedRun, options: BuildReportOptions = {}): Promise<RunReport> {
  const now = options.now ?? (() => new Date());
  const card = run.card;
  const checks: ReportCheck[] = [];
  const dir = resolve(run.dir);
  /** The highest entry of the run's audit log a signed head vouches for (-1: none). */
  let signedThrough = -1;

  // The audit logs.
  for (const [name, auditDir] of [
    ['audit log', run.auditDir],
    ["broker's audit log", run.brokerAuditDir],
  ] as const) {
    if (auditDir === undefined) {
      if (name === 'audit log')
        checks.push({
          name,
          status: 'not-checked',
          detail: 'No audit folder was given or found (pass --home or --audit).',
        });
      continue;
    }
    const reverify = `sealtrain audit verify --home ${q(dirname(resolve(auditDir)))}`;
    try {
      const r = await verifyAuditLog(auditDir);
      if (name === 'audit log' && r.ok) signedThrough = r.signedThrough ?? -1;
      const errors = r.problems.filter((p) => p.severity === 'error');
      checks.push({
        name,
        status: r.ok ? 'ok' : 'failed',
        detail: r.ok
          ? `${r.entries} entries in ${auditDir}: hash chain intact, signed through entry ${r.signedThrough ?? '–'}.`
          : `${auditDir}: ${errors.map((p) => p.message).join('; ')}`,
        reverify,
      });
    } catch (error) {
      checks.push({
        name,
        status: 'failed',
        detail: isSealtrainError(error) ? error.message : String(error),
        reverify,
      });
    }
  }

  // The sealed model against the card and the audit log.
  const recordedModel = run.audit.find(
    (e) => e.action === 'run.model' && e.outcome === 'ok' && e.details?.run_id === run.manifest.run_id,
  );
  const modelPath = join(dir, RUN_FILES.model);
  const modelSha = await fileSha256(modelPath);
  if (card === undefined)
    checks.push({
      name: 'sealed model',
      status: 'not-checked',
      detail: 'The run has no model card: it is unfinished, was interrupted or stopped.',
    });
  else {
    const problems: string[] = [];
    if (modelSha === undefined) problems.push(`${modelPath} is missing`);
    else if (modelSha !== card.model_file.sha256)
      problems.push(`${modelPath} has SHA-256 ${modelSha}, the model card says ${card.model_file.sha256}`);
    if (run.auditDir !== undefined && recordedModel === undefined)
      problems.push('the audit log has no run.model entry for this run');
    else if (recordedModel && recordedModel.file?.sha256 !== modelSha)
      problems.push(`the audit log records SHA-256 ${recordedModel.file?.sha256} for the model`);
    else if (recordedModel && recordedModel.seq > signedThrough)
      problems.push(
        `its run.model entry (seq ${recordedModel.seq}) comes after the last signed head (${signedThrough < 0 ? 'none' : signedThrough}), where the hash chain alone, which needs no key, vouches for it`,
      );
    checks.push({
      name: 'sealed model',
      status: problems.length ? 'failed' : 'ok',
      detail: problems.length
        ? `${problems.join('; ')}.`
        : `model.sealed has SHA-256 ${modelSha}, as the model card${recordedModel ? ' and the audit log record' : ' records'}.`,
      reverify: `sha256sum ${q(modelPath)}`,
    });
  }

  // Checkpoints against the audit log.
  const recordedCheckpoints = run.audit.filter(
    (e) => e.action === 'run.checkpoint' && e.outcome === 'ok' && e.details?.run_id === run.manifest.run_id,
  );
  const checkpoints: ReportCheckpoint[] = [];
  const onDisk = (await listCheckpoints(dir)).reverse();
  for (const c of onDisk) {
    const digest = (await fileSha256(c.path)) ?? '';
    // The file's counter, its digest and this run, all three: a copy of another checkpoint's
    // bytes under a newer name is not recorded.
    const entry = recordedCheckpoints.find(
      (e) => e.file?.sha256 === digest && e.details?.counter === c.counter,
    );
    checkpoints.push({
      counter: c.counter,
      path: c.path,
      sha256: digest,
      recorded: entry
        ? {
            epoch: num(entry.details?.epoch),
            step: num(entry.details?.step),
            time: entry.time,
          }
        : undefined,
    });
  }
  if (run.auditDir !== undefined && (checkpoints.length > 0 || recordedCheckpoints.length > 0)) {
    const problems: string[] = [];
    const unrecorded = checkpoints.filter((c) => c.recorded === undefined);
    if (unrecorded.length)
      problems.push(
        `${unrecorded.map((c) => c.path).join(', ')} ${unrecorded.length === 1 ? 'is' : 'are'} not recorded in the audit log under ${unrecorded.length === 1 ? 'its' : 'their'} counter and SHA-256 (a resume would pass ${unrecorded.length === 1 ? 'it' : 'them'} over)`,
      );
    let newestRecorded = 0;
    for (const e of recordedCheckpoints)
      newestRecorded = Math.max(newestRecorded, num(e.details?.counter) ?? 0);
    const newestOnDisk = onDisk[onDisk.length - 1]?.counter ?? 0;
    if (newestRecorded > newestOnDisk)
      problems.push(
        `the audit log records checkpoint ${newestRecorded} but the newest on disk is ${newestOnDisk || 'none'} (deleted or rolled back)`,
      );
    const unsigned = checkpoints.filter((c) => {
      const e = recordedCheckpoints.find((x) => x.details?.counter === c.counter);
      return e !== undefined && e.seq > signedThrough;
    });
    if (unsigned.length)
      problems.push(
        `the entries of checkpoint(s) ${unsigned.map((c) => c.counter).join(', ')} come after the last signed head`,
      );
    checks.push({
      name: 'checkpoints',
      status: problems.length ? 'failed' : 'ok',
      detail: problems.length
        ? `${problems.join('; ')}.`
        : `${checkpoints.length} checkpoint(s) on disk, each recorded in the signed audit log with its counter and SHA-256; none recorded is missing.`,
      reverify: `sealtrain audit show --action run.checkpoint --home ${q(dirname(resolve(run.auditDir)))}`,
    });
  }

  // The lineage manifest.
  if (card?.lineage) {
    const lineagePath = card.lineage.path;
    const digest = await fileSha256(lineagePath);
    const reverify = `sealtrain lineage verify ${q(lineagePath)}`;
    if (digest === undefined)
      checks.push({ name: 'lineage', status: 'failed', detail: `${lineagePath} is missing.`, reverify });
    else if (digest !== card.lineage.sha256)
      checks.push({
        name: 'lineage',
        status: 'failed',
        detail: `${lineagePath} has SHA-256 ${digest}; the model card records ${card.lineage.sha256}.`,
        reverify,
      });
    else if (options.home === undefined)
      checks.push({
        name: 'lineage',
        status: 'ok',
        detail: `${lineagePath} has the SHA-256 the model card records; its signature was not checked (no --home).`,
        reverify,
      });
    else {
      try {
        const r = await verifyManifest(lineagePath, { home: options.home });
        checks.push({
          name: 'lineage',
          status: r.ok ? 'ok' : 'failed',
          detail: r.ok
            ? `${lineagePath}: signature valid (key ${r.keyId.slice(0, 16)}…), ${r.files.length} file hashes match, and it is the manifest the model card records.`
            : `${lineagePath}: ${r.failures.join('; ')}.`,
          reverify,
        });
      } catch (error) {
        checks.push({
          name: 'lineage',
          status: 'failed',
          detail: isSealtrainError(error) ? error.message : String(error),
          reverify,
        });
      }
    }
  }

  const simulated = run.manifest.tee === 'sim';
  const epochsTable = run.metrics
    .filter((m) => m.type === 'epoch')
    .map((m) => ({
      epoch: m.epoch,
      loss: m.loss,
      accuracy: m.accuracy,
      validation_loss: m.validation_loss,
      validation_accuracy: m.validation_accuracy,
      seconds: m.seconds,
    }));
  const steps = run.metrics.filter((m) => m.type === 'step');
  const res = run.resources;
  return {
    version: 1,
    generated: now().toISOString(),
    tool: { name: 'sealtrain', version: options.toolVersion ?? card?.tool.version ?? 'unknown' },
    run: {
      id: run.manifest.run_id,
      dir,
      created: run.manifest.created,
      ended: run.window.end,
      tee: run.manifest.tee,
      simulated,
      finished: card !== undefined,
      config_sha256: run.manifest.config_sha256,
      training_sha256: run.manifest.training_sha256,
    },
    warning: simulated ? SIMULATION_WARNING : undefined,
    model: card?.model,
    training: {
      epochs: card?.training.epochs ?? epochsTable.length,
      steps: card?.training.steps ?? steps[steps.length - 1]?.step ?? 0,
      stopped_early: card?.training.stopped_early,
      final_metrics: card?.metrics ?? {},
      epochs_table: epochsTable,
    },
    resources: {
      samples: res.length,
      peak_rss_bytes: maxOf(res, (r) => r.rss_bytes),
      peak_heap_used_bytes: maxOf(res, (r) => r.heap_used_bytes),
      mean_cpu_percent: res.length
        ? Math.round((res.reduce((a, r) => a + r.cpu_percent, 0) / res.length) * 10) / 10
        : null,
      max_event_loop_delay_ms: maxOf(res, (r) => r.event_loop_delay_ms),
    },
    data: card?.data ?? {},
    lineage: card?.lineage ?? null,
    attestation: card ? { ...card.attestation } : null,
    keys_released: card?.keys_released ?? [],
    sealed_to: card?.sealed_to,
    releases: releasesOf(run),
    checkpoints,
    alerts: run.alerts,
    checks,
    // Verified means checked against the signed audit log: the card alone sits in the same folder.
    verified:
      !checks.some((c) => c.status === 'failed') &&
      checks.some((c) => c.name === 'audit log' && c.status === 'ok'),
  };
}

/** The largest finite value, without spreading a long array into arguments. */
function maxOf<T>(rows: readonly T[], value: (row: T) => number): number | null {
  let max: number | null = null;
  for (const row of rows) {
    const v = value(row);
    if (typeof v === 'number' && Number.isFinite(v) && (max === null || v > max)) max = v;
  }
  return max;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

/** Key releases: the run's own `run.release` entries and the broker's release decisions. */
export function releasesOf(run: RecordedRun): ReportRelease[] {
  const out: ReportRelease[] = [];
  const add = (e: AuditEntry, source: 'run' | 'broker') =>
    out.push({
      time: e.time,
      source,
      outcome: e.outcome === 'ok' ? 'allowed' : 'denied',
      key: e.key ? `${e.key.uri}${e.key.version ? `/${e.key.version}` : ''}` : undefined,
      code: e.code,
    });
  for (const e of run.audit) if (e.action === 'run.release') add(e, 'run');
  for (const e of run.brokerAudit ?? [])
    if (e.action === 'broker.keys.release' && !isAuthChallenge(e)) add(e, 'broker');
  return out.sort((a, b) => a.time.localeCompare(b.time));
}
