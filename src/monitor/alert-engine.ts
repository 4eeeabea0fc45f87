import { appendFile } from 'node:fs/promises';
import type { AuditEvent, AuditSink } from '../audit/index.js';
import { fromFsError, SealtrainError } from '../errors/index.js';
import type { RunMetric } from '../run/index.js';
import type { AlertRule } from './alert-rules.js';
import {
  type ConditionCheck,
  type ConditionState,
  conditionCheck,
  type Observation,
} from './internal/alert-conditions.js';
import type { AlertRecord, ResourceSample } from './run-record.js';
import type { DeliveryResult, WebhookCloseSummary, WebhookSender } from './webhook.js';

/** Options for {@link AlertEngine}. */
export interface AlertEngineOptions {
  /** Who the audit entries name as acting; default `sealtrain`. */
  readonly actor?: string;
  /** Where `monitor.alert` and `monitor.webhook` entries go; default none. */
  readonly sink?: AuditSink;
  /** `alerts.jsonl` of the run folder: each alert is appended as one line; default none. */
  readonly alertsPath?: string;
  /** Delivers `webhook` actions; without one they are skipped (a dry run). */
  readonly webhooks?: WebhookSender;
  /** Prints `log` actions and webhook failures; default a line on stderr. */
  readonly log?: (line: string) => void;
  /** The run's id, in webhook bodies and audit entries. */
  readonly runId?: string;
  /** When the run started, for `run_longer_than_minutes`; default the first observation's time. */
  readonly startedAt?: Date;
  /** The time of observations that carry none, and of `tick()`; default now. */
  readonly clock?: () => Date;
}

/** The first `stop` action taken. */
export interface StopRequest {
  readonly rule: string;
  readonly message: string;
  readonly time: string;
}

/** An audit log's verification outcome, as `verifyAuditLog` reports it. */
export interface AuditVerification {
  readonly ok: boolean;
  readonly problems: readonly { readonly message: string; readonly severity?: 'error' | 'warning' }[];
}

interface Armed {
  readonly rule: AlertRule;
  readonly check: ConditionCheck;
  armed: boolean;
}

/** Keeps audit detail values within the log's limits and free of control characters. */
function auditText(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes.
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').slice(0, 1000);
}

/**
 * Evaluates alert rules over what a run produces: metrics, resource samples, audit events, audit
 * verifications and the passing of time. The same engine serves live runs and recorded ones
 * (`evaluateRecordedRun`).
 *
 * Each rule fires once per episode: when its condition starts to hold, and again only after it
 * has stopped holding (a finite loss after NaN, memory back under the threshold, fewer events in
 * the window, a verification that passes). A run's time budget is spent once.
 *
 * A firing rule becomes an {@link AlertRecord}: appended to `alertsPath`, recorded as a
 * `monitor.alert` audit entry, printed by `log`, POSTed to its webhooks in the background, and
 * for `stop`, reported to {@link onStop} listeners. Observing never waits for any of it and never
 * throws; write failures surface from {@link flush} and {@link close}.
 */
export class AlertEngine {
  readonly #rules: Armed[];
  readonly #options: AlertEngineOptions;
  readonly #actor: string;
  readonly #log: (line: string) => void;
  readonly #clock: () => Date;
  readonly #fired: AlertRecord[] = [];
  readonly #stopListeners = new Set<(stop: StopRequest) => void>();
  readonly #alertListeners = new Set<(alert: AlertRecord) => void>();
  readonly #unsubscribe: (() => void) | undefined;
  #start: number | undefined;
  #stop: StopRequest | undefined;
  #writes: Promise<void> = Promise.resolve();
  #writeError: unknown;

  /**
   * @throws {SealtrainError} `ERR_MONITOR_RULES_INVALID` when a rule names a webhook the sender
   *   does not know.
   */
  constructor(rules: { readonly rules: readonly AlertRule[] }, options: AlertEngineOptions = {}) {
    this.#options = options;
    this.#actor = options.actor ?? 'sealtrain';
    this.#log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.#clock = options.clock ?? (() => new Date());
    this.#start = options.startedAt?.getTime();
    const known = new Set(options.webhooks?.webhooks ?? []);
    for (const rule of rules.rules)
      for (const a of rule.actions)
        if (a.kind === 'webhook' && options.webhooks && !known.has(a.webhook))
          throw new SealtrainError(
            'ERR_MONITOR_RULES_INVALID',
            `Rule ${rule.name} posts to webhook "${a.webhook}", which the sender does not know.`,
            { details: { rule: rule.name, webhook: a.webhook } },
          );
    this.#rules = rules.rules.map((rule) => ({ rule, check: conditionCheck(rule.condition), armed: true }));
    this.#unsubscribe = options.webhooks?.onResult((r) => this.#delivered(r));
  }

  /** A line of `metrics.jsonl` (a NaN loss may be NaN or, read back from the file, null). */
  observeMetric(metric: RunMetric): void {
    this.#observe({ kind: 'metric', time: this.#timeOf(metric.time), metric });
  }

  /** A resource sample. */
  observeResources(sample: ResourceSample): void {
    this.#observe({ kind: 'resources', time: this.#timeOf(sample.time), sample });
  }

  /** An audit event or entry; the engine's own `monitor.*` events are ignored. */
  observeAudit(event: AuditEvent & { readonly time?: string }): void {
    if (event.action.startsWith('monitor.')) return;
    this.#observe({ kind: 'audit', time: this.#timeOf(event.time), event });
  }

  /** The outcome of verifying the audit log `source` (a folder): errors fire `audit_verification_failed`. */
  observeAuditVerification(report: AuditVerification, source: string, time?: Date): void {
    const problems = report.ok
      ? []
      : report.problems.filter((p) => p.severity !== 'warning').map((p) => p.message);
    if (!report.ok && problems.length === 0) problems.push('verification failed');
    this.#observe({ kind: 'verification', time: (time ?? this.#clock()).getTime(), source, problems });
  }

  /** Lets time pass without an observation (for `run_longer_than_minutes`). */
  tick(now: Date = this.#clock()): void {
    this.#observe({ kind: 'tick', time: now.getTime() });
  }

  /** The first `stop` action taken, if any. */
  get stopRequested(): StopRequest | undefined {
    return this.#stop;
  }

  /** Calls `listener` each time a rule with a `stop` action fires; returns an unsubscribe function. */
  onStop(listener: (stop: StopRequest) => void): () => void {
    this.#stopListeners.add(listener);
    return () => this.#stopListeners.delete(listener);
  }

  /** Calls `listener` with every alert as it fires; returns an unsubscribe function. */
  onAlert(listener: (alert: AlertRecord) => void): () => void {
    this.#alertListeners.add(listener);
    return () => this.#alertListeners.delete(listener);
  }

  /** The alerts fired so far, oldest first. */
  fired(): AlertRecord[] {
    return [...this.#fired];
  }

  /**
   * Waits for the `alerts.jsonl` lines and audit entries queued so far.
   *
   * @throws the first write error (`ERR_IO_*` naming `alerts.jsonl`, or the sink's error).
   */
  async flush(): Promise<void> {
    await this.#writes;
    if (this.#writeError !== undefined) throw this.#writeError;
  }

  /**
   * Closes the webhook sender (waiting up to `deadlineMs` for deliveries), records their outcomes
   * and flushes. Resolves with the sender's counts, when there is a sender.
   */
  async close(deadlineMs = 5000): Promise<WebhookCloseSummary | undefined> {
    const summary = await this.#options.webhooks?.close(deadlineMs);
    this.#unsubscribe?.();
    await this.flush();
    return summary;
  }

  #timeOf(time: string | undefined): number {
    const t = time === undefined ? Number.NaN : Date.parse(time);
    return Number.isNaN(t) ? this.#clock().getTime() : t;
  }

  #observe(o: Observation): void {
    this.#start ??= o.time;
    for (const entry of this.#rules) {
      const state = entry.check.update(o, this.#start);
      if (state === undefined) continue;
      if (!state.active) entry.armed = true;
      else if (entry.armed) {
        entry.armed = false;
        this.#fire(entry.rule, state, o.time);
      }
    }
  }

  #fire(rule: AlertRule, state: ConditionState, time: number): void {
    const record: AlertRecord = {
      type: 'alert',
      time: new Date(time).toISOString(),
      rule: rule.name,
      severity: rule.severity,
      condition: rule.condition.kind,
      message: state.message ?? `The condition ${rule.condition.kind} holds.`,
      ...(state.value !== undefined && Number.isFinite(state.value) ? { value: state.value } : {}),
      actions: [...new Set(rule.actions.map((a) => a.kind))],
    };
    this.#fired.push(record);
    this.#record(record);
    const body = {
      version: 1,
      type: 'sealtrain.alert',
      actor: this.#actor,
      ...(this.#options.runId === undefined ? {} : { run_id: this.#options.runId }),
      alert: record,
    };
    for (const action of rule.actions) {
      if (action.kind === 'log')
        this.#log(`sealtrain: alert ${rule.name} [${rule.severity}]: ${record.message}`);
      else if (action.kind === 'webhook') this.#options.webhooks?.send(action.webhook, body, rule.name);
    }
    for (const listener of this.#alertListeners) this.#call(listener, record);
    if (rule.actions.some((a) => a.kind === 'stop')) {
      const stop = { rule: rule.name, message: record.message, time: record.time };
      this.#stop ??= stop;
      for (const listener of this.#stopListeners) this.#call(listener, stop);
    }
  }

  /** Calls a listener; what it throws surfaces from `flush`, not from the observation. */
  #call<T>(listener: (value: T) => void, value: T): void {
    try {
      listener(value);
    } catch (error) {
      this.#writeError ??= error;
    }
  }

  #record(record: AlertRecord): void {
    const path = this.#options.alertsPath;
    this.#queue(async () => {
      if (path === undefined) return;
      await appendFile(path, `${JSON.stringify(record)}\n`, { mode: 0o600 }).catch((error: unknown) => {
        throw fromFsError(error, 'append to', path);
      });
    });
    this.#audit({
      action: 'monitor.alert',
      outcome: 'ok',
      details: {
        rule: record.rule,
        condition: record.condition,
        severity: record.severity,
        message: auditText(record.message),
        ...(record.value === undefined ? {} : { value: record.value }),
      },
    });
  }

  #delivered(r: DeliveryResult): void {
    if (!r.ok) {
      const why = r.error === undefined ? '' : ` (${r.error})`;
      this.#log(
        `sealtrain: webhook ${r.webhook} for alert ${r.tag ?? '?'}: ${r.outcome} after ${r.attempts} attempt(s)${why}.`,
      );
    }
    this.#audit({
      action: 'monitor.webhook',
      outcome: r.ok ? 'ok' : 'error',
      details: {
        webhook: r.webhook,
        ...(r.tag === undefined ? {} : { rule: r.tag }),
        delivery: r.id,
        result: r.outcome,
        attempts: r.attempts,
        ...(r.status === undefined ? {} : { status: r.status }),
        ...(r.error === undefined ? {} : { error: auditText(r.error) }),
      },
    });
  }

  #audit(event: Omit<AuditEvent, 'actor'> & { details: Record<string, string | number | boolean> }): void {
    const sink = this.#options.sink;
    if (sink === undefined) return;
    const runId = this.#options.runId;
    const details = runId === undefined ? event.details : { ...event.details, run_id: runId };
    this.#queue(() => sink.record({ ...event, actor: this.#actor, details }));
  }

  #queue(write: () => Promise<void>): void {
    this.#writes = this.#writes.then(write).catch((error: unknown) => {
      this.#writeError ??= error;
    });
  }
}
