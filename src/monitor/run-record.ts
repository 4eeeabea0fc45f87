import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type AuditEntry, readAuditEntries } from '../audit/index.js';
import { isSealtrainError, SealtrainError } from '../errors/index.js';
import type { RunMetric } from '../run/metrics-log.js';
import type { ModelCard } from '../run/model-card.js';
import { RUN_FILES, type RunManifest, readRunManifest } from '../run/run-folder.js';

/**
 * One resource sample, a line of `resources.jsonl`: the training process (or the broker) over the
 * interval since the previous sample.
 */
export interface ResourceSample {
  readonly type: 'resources';
  readonly time: string;
  /** Seconds since the process started sampling. */
  readonly elapsed_seconds: number;
  /** Process CPU time over the interval as a share of one core (100 = one core busy). */
  readonly cpu_percent: number;
  readonly rss_bytes: number;
  readonly heap_used_bytes: number;
  /** The event loop's delay over the interval, 99th percentile, in milliseconds. */
  readonly event_loop_delay_ms: number;
}

/** Alert severities, lowest first. */
export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** One alert that fired, a line of `alerts.jsonl` (and an audit entry `monitor.alert`). */
export interface AlertRecord {
  readonly type: 'alert';
  readonly time: string;
  /** The rule's name from the rules file. */
  readonly rule: string;
  readonly severity: Severity;
  /** The condition kind, e.g. `loss_not_finite`, `releases_denied`. */
  readonly condition: string;
  /** What happened, in a sentence that names the value and the threshold. */
  readonly message: string;
  /** The observed value when the condition has one. */
  readonly value?: number;
  /** The actions taken: `log`, `webhook`, `stop`. */
  readonly actions: readonly string[];
}

/** The monitoring files of a run folder, beside `RUN_FILES`. */
export const MONITOR_FILES = {
  resources: 'resources.jsonl',
  alerts: 'alerts.jsonl',
} as const;

/** A run folder read for alert evaluation, charts and the report. */
export interface RecordedRun {
  readonly dir: string;
  readonly manifest: RunManifest;
  /** Absent while a run is unfinished or was interrupted. */
  readonly card: ModelCard | undefined;
  readonly metrics: readonly RunMetric[];
  readonly resources: readonly ResourceSample[];
  readonly alerts: readonly AlertRecord[];
  /**
   * The run's audit entries: those whose `details.run_id` is this run's, and every other entry
   * from five minutes before the run's folder was made (its key releases come first) to its end.
   * Empty when no audit folder was given or found.
   */
  readonly audit: readonly AuditEntry[];
  /** The audit folder read, if any. */
  readonly auditDir: string | undefined;
  /** The broker's entries over the same window, when its audit folder was given. */
  readonly brokerAudit: readonly AuditEntry[] | undefined;
  readonly brokerAuditDir: string | undefined;
  /** Start and end of the run (end: the last metric, alert or card time). */
  readonly window: { readonly start: string; readonly end: string };
}

/** Options for {@link readRecordedRun}. */
export interface ReadRecordedRunOptions {
  /** The audit log folder of the home that ran it (default: none). */
  readonly auditDir?: string;
  /** The broker's audit log folder, for releases allowed and denied. */
  readonly brokerAuditDir?: string;
}

/** How far before the run folder's creation its audit window opens (releases come first). */
const LEAD_MS = 5 * 60 * 1000;

/**
 * Reads a run folder: `run.json`, `metrics.jsonl`, `resources.jsonl`, `alerts.jsonl`,
 * `model-card.json` and the run's audit entries. Torn last lines of the JSONL files are skipped.
 *
 * @throws {SealtrainError} `ERR_MONITOR_RUN_INVALID` when `dir` holds no run or a file is
 *   malformed (the message names it); `ERR_AUDIT_LOG_NOT_FOUND` when an audit folder was given
 *   and holds no log.
 */
export async function readRecordedRun(
  dir: string,
  options: ReadRecordedRunOptions = {},
): Promise<RecordedRun> {
  let manifest: RunManifest | undefined;
  try {
    manifest = await readRunManifest(dir);
  } catch (error) {
    if (isSealtrainError(error, 'ERR_RUN_STATE'))
      throw new SealtrainError('ERR_MONITOR_RUN_INVALID', error.message, { details: { path: dir } });
    throw error;
  }
  if (manifest === undefined)
    throw new SealtrainError(
      'ERR_MONITOR_RUN_INVALID',
      `${dir} is not a run folder: it has no ${RUN_FILES.manifest}. Give the output.dir of a sealtrain train run.`,
      { details: { path: dir } },
    );
  const metrics = await readJsonLines<RunMetric>(join(dir, RUN_FILES.metrics), (v) =>
    ['step', 'epoch'].includes(String((v as { type?: unknown }).type)),
  );
  const resources = await readJsonLines<ResourceSample>(
    join(dir, MONITOR_FILES.resources),
    (v) => (v as { type?: unknown }).type === 'resources',
  );
  const alerts = await readJsonLines<AlertRecord>(
    join(dir, MONITOR_FILES.alerts),
    (v) => (v as { type?: unknown }).type === 'alert',
  );
  const card = await readCard(join(dir, RUN_FILES.card));
  // Only times that parse count: one bad line must not move the window's end.
  const times = [
    manifest.created,
    ...metrics.map((m) => m.time),
    ...resources.map((r) => r.time),
    ...alerts.map((a) => a.time),
    ...(card ? [card.created] : []),
  ]
    .filter((t) => typeof t === 'string' && Number.isFinite(Date.parse(t)))
    .sort();
  const window = { start: manifest.created, end: times[times.length - 1] ?? manifest.created };
  const inWindow = (runId: string) => (e: AuditEntry) => {
    const id = e.details?.run_id;
    if (id !== undefined) return id === runId;
    const t = Date.parse(e.time);
    return t >= Date.parse(window.start) - LEAD_MS && t <= Date.parse(window.end) + 1000;
  };
  const pick = inWindow(manifest.run_id);
  const audit = options.auditDir ? (await readAuditEntries(options.auditDir)).filter(pick) : [];
  const brokerAudit = options.brokerAuditDir
    ? (await readAuditEntries(options.brokerAuditDir)).filter(pick)
    : undefined;
  return {
    dir,
    manifest,
    card,
    metrics,
    resources,
    alerts,
    audit,
    auditDir: options.auditDir,
    brokerAudit,
    brokerAuditDir: options.brokerAuditDir,
    window,
  };
}

/** The JSON lines of `path` that `keep` accepts; [] when the file is missing; torn lines skipped. */
async function readJsonLines<T>(path: string, keep: (v: unknown) => boolean): Promise<T[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new SealtrainError('ERR_MONITOR_RUN_INVALID', `${path} cannot be read.`, {
      details: { path },
    });
  }
  const out: T[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    if (value !== null && typeof value === 'object' && keep(value)) out.push(value as T);
  }
  return out;
}

async function readCard(path: string): Promise<ModelCard | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SealtrainError('ERR_MONITOR_RUN_INVALID', `${path} cannot be read.`, {
      details: { path },
    });
  }
  try {
    const card = JSON.parse(text) as ModelCard;
    if (card.version !== 1 || typeof card.run_id !== 'string') throw new Error();
    return card;
  } catch {
    throw new SealtrainError('ERR_MONITOR_RUN_INVALID', `${path} is not a sealtrain model card.`, {
      details: { path },
    });
  }
}

/**
 * A request without credentials that the broker answered 401 with its challenge: the Azure SDK's
 * first request of every client (challenge-based authentication), not a release refused.
 */
export function isAuthChallenge(e: AuditEntry): boolean {
  return e.outcome === 'error' && e.code === 'ERR_BROKER_AUTH' && e.details?.reason === 'unauthenticated';
}
