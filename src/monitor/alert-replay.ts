import { type AuditEntry, verifyAuditLog } from '../audit/index.js';
import { isSealtrainError } from '../errors/index.js';
import { AlertEngine, type AlertEngineOptions, type AuditVerification } from './alert-engine.js';
import type { AlertRule } from './alert-rules.js';
import type { AlertRecord, RecordedRun } from './run-record.js';

/** Options for {@link evaluateRecordedRun}: the engine's, but the run gives its id and start. */
export interface EvaluateRecordedRunOptions
  extends Omit<AlertEngineOptions, 'runId' | 'startedAt' | 'clock'> {
  /** Verify the run's audit log (and the broker's) for `audit_verification_failed`; default true. */
  readonly verifyAudit?: boolean;
}

type Replayed = { readonly time: number; readonly feed: (engine: AlertEngine) => void };

/** A verification report; a log that cannot be verified at all (no key, no log) is a failure too. */
async function verification(dir: string): Promise<AuditVerification> {
  try {
    return await verifyAuditLog(dir);
  } catch (error) {
    if (!isSealtrainError(error)) throw error;
    return { ok: false, problems: [{ message: error.message, severity: 'error' }] };
  }
}

/**
 * Replays a recorded run through an {@link AlertEngine}: its metrics, resource samples and audit
 * entries (the run's and the broker's) in time order, then the verification of each audit folder
 * at the run's end. With the broker's log, the run's own `run.release` entries are left out: the
 * broker's log holds the same decisions, and a denial must not count twice.
 *
 * Without `webhooks`, `sink` or `alertsPath` in `options` nothing is sent or written: the alerts
 * are returned. With `webhooks`, the caller closes the sender.
 *
 * @throws the engine's write errors (see {@link AlertEngine.flush}).
 */
export async function evaluateRecordedRun(
  rules: { readonly rules: readonly AlertRule[] },
  run: RecordedRun,
  options: EvaluateRecordedRunOptions = {},
): Promise<AlertRecord[]> {
  const end = new Date(run.window.end);
  const { verifyAudit = true, ...engineOptions } = options;
  const engine = new AlertEngine(rules, {
    ...engineOptions,
    runId: run.manifest.run_id,
    startedAt: new Date(run.manifest.created),
    clock: () => end,
  });
  const at = (time: string) => Date.parse(time);
  const audit = (e: AuditEntry): Replayed => ({ time: at(e.time), feed: (x) => x.observeAudit(e) });
  const runAudit = run.brokerAudit ? run.audit.filter((e) => e.action !== 'run.release') : run.audit;
  const events: Replayed[] = [
    ...run.metrics.map((m) => ({ time: at(m.time), feed: (x: AlertEngine) => x.observeMetric(m) })),
    ...run.resources.map((r) => ({ time: at(r.time), feed: (x: AlertEngine) => x.observeResources(r) })),
    ...runAudit.map(audit),
    ...(run.brokerAudit ?? []).map(audit),
  ];
  // Stable: equal times keep the order above (metrics, resources, the run's log, the broker's).
  events.sort((a, b) => (a.time || 0) - (b.time || 0));
  for (const e of events) e.feed(engine);
  if (verifyAudit)
    for (const dir of [run.auditDir, run.brokerAuditDir])
      if (dir !== undefined) engine.observeAuditVerification(await verification(dir), dir, end);
  engine.tick(end);
  await engine.flush();
  return engine.fired();
}
