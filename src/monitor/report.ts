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
  /** True when no check failed. */
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
  for (const c of (await listCheckpoints(dir)).reverse()) {
    const digest = (await fileSha256(c.path)) ?? '';
    const entry = recordedCheckpoints.find((e) => e.file?.sha256 === digest);
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
  if (run.auditDir !== undefined && checkpoints.length > 0) {
    const unrecorded = checkpoints.filter((c) => c.recorded === undefined);
    checks.push({
      name: 'checkpoints',
      status: unrecorded.length ? 'failed' : 'ok',
      detail: unrecorded.length
        ? `${unrecorded.map((c) => c.path).join(', ')} ${unrecorded.length === 1 ? 'is' : 'are'} not recorded in the audit log (a resume would pass ${unrecorded.length === 1 ? 'it' : 'them'} over).`
        : `${checkpoints.length} checkpoint(s) on disk, each recorded in the audit log with its SHA-256.`,
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
      peak_rss_bytes: res.length ? Math.max(...res.map((r) => r.rss_bytes)) : null,
      peak_heap_used_bytes: res.length ? Math.max(...res.map((r) => r.heap_used_bytes)) : null,
      mean_cpu_percent: res.length
        ? Math.round((res.reduce((a, r) => a + r.cpu_percent, 0) / res.length) * 10) / 10
        : null,
      max_event_loop_delay_ms: res.length ? Math.max(...res.map((r) => r.event_loop_delay_ms)) : null,
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
    verified: !checks.some((c) => c.status === 'failed'),
  };
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
