import { join } from 'node:path';
import type { AuditSink } from '../../../audit/index.js';
import { verifyAuditLog } from '../../../audit/index.js';
import { AlertEngine, type StopRequest } from '../../../monitor/alert-engine.js';
import type { AlertRules } from '../../../monitor/alert-rules.js';
import type { LiveAlerts } from '../../../monitor/run-monitor.js';
import type { AlertRecord } from '../../../monitor/run-record.js';
import { MONITOR_FILES } from '../../../monitor/run-record.js';
import { WebhookSender } from '../../../monitor/webhook.js';
import type { RunManifest } from '../../../run/index.js';

export { loadAlertRules } from '../../../monitor/alert-rules.js';

/**
 * The run's alert rules, live: an engine made once the run folder exists (it writes
 * `alerts.jsonl` there), fed every metric, resource sample and audit event of the run, with the
 * home's audit log verified at the start; a `stop` action aborts the run between steps.
 */
export class LiveRunAlerts {
  readonly stop = new AbortController();
  stopped: StopRequest | undefined;
  #engine: AlertEngine | undefined;

  constructor(
    readonly rules: AlertRules,
    readonly audit: { readonly sink: AuditSink; readonly actor: string },
    readonly auditDir: string,
    readonly log: (line: string) => void,
    /** When the command started: `run_longer_than_minutes` counts from here. */
    readonly startedAt: Date = new Date(),
  ) {}

  /** The audit sink the run records through: each stored event is shown to the rules too. */
  get sink(): AuditSink {
    return {
      record: async (event) => {
        await this.audit.sink.record(event);
        this.#engine?.observeAudit({ ...event, time: new Date().toISOString() });
      },
    };
  }

  /** The alerts that fired so far. */
  fired(): AlertRecord[] {
    return this.#engine?.fired() ?? [];
  }

  async start(dir: string, manifest: RunManifest): Promise<LiveAlerts> {
    const engine = new AlertEngine(this.rules, {
      actor: this.audit.actor,
      sink: this.audit.sink,
      alertsPath: join(dir, MONITOR_FILES.alerts),
      ...(this.rules.webhooks.length > 0 ? { webhooks: new WebhookSender(this.rules.webhooks) } : {}),
      log: this.log,
      runId: manifest.run_id,
      startedAt: this.startedAt,
    });
    engine.onStop((s) => {
      this.stopped ??= s;
      this.stop.abort();
    });
    this.#engine = engine;
    try {
      engine.observeAuditVerification(await verifyAuditLog(this.auditDir), this.auditDir);
    } catch (error) {
      await engine.close().catch(() => {});
      throw error;
    }
    return {
      observeMetric: (m) => engine.observeMetric(m),
      observeResources: (r) => engine.observeResources(r),
      tick: (now) => engine.tick(now),
      close: async () => {
        const summary = await engine.close();
        if (summary && summary.undelivered > 0)
          this.log(
            `Warning: ${summary.undelivered} webhook delivery(ies) did not go through before the run ended.`,
          );
      },
    };
  }
}
