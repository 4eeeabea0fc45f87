import type { AuditEvent } from '../../audit/index.js';
import type { RunMetric } from '../../run/index.js';
import type { AlertCondition } from '../alert-rules.js';
import type { ResourceSample } from '../run-record.js';

/** One thing the engine saw, at `time` (ms since the epoch). */
export type Observation =
  | { readonly kind: 'metric'; readonly time: number; readonly metric: RunMetric }
  | { readonly kind: 'resources'; readonly time: number; readonly sample: ResourceSample }
  | { readonly kind: 'audit'; readonly time: number; readonly event: AuditEvent }
  | {
      readonly kind: 'verification';
      readonly time: number;
      readonly source: string;
      readonly problems: readonly string[];
    }
  | { readonly kind: 'tick'; readonly time: number };

/** Whether a condition holds after an observation; `message` and `value` describe it when it does. */
export interface ConditionState {
  readonly active: boolean;
  readonly message?: string;
  readonly value?: number;
}

/** A condition's running state. `update` returns undefined when the observation says nothing about it. */
export interface ConditionCheck {
  update(o: Observation, startedAt: number): ConditionState | undefined;
}

const MIB = 1024 * 1024;
const round = (x: number, digits: number) => Number(x.toFixed(digits));
const QUIET: ConditionState = { active: false };

/** A key release the broker's policy refused, seen from the broker or from the run. */
export function isDenial(e: AuditEvent): boolean {
  return (
    e.outcome === 'error' &&
    e.code === 'ERR_RELEASE_DENIED' &&
    (e.action === 'broker.keys.release' || e.action === 'run.release')
  );
}

/** Evidence that failed attestation (`ERR_ATTEST_*`), at the broker or in the run. */
export function isAttestationFailure(e: AuditEvent): boolean {
  return e.outcome === 'error' && typeof e.code === 'string' && e.code.startsWith('ERR_ATTEST_');
}

/** `count` matching audit events within a sliding window of `withinMinutes`. */
function eventWindow(
  count: number,
  withinMinutes: number,
  matches: (e: AuditEvent) => boolean,
  noun: string,
  detail: (e: AuditEvent | undefined) => string,
): ConditionCheck {
  const times: number[] = [];
  let latest = Number.NEGATIVE_INFINITY;
  let last: AuditEvent | undefined;
  return {
    update(o) {
      latest = Math.max(latest, o.time);
      if (o.kind === 'audit' && matches(o.event)) {
        times.push(o.time);
        times.sort((a, b) => a - b);
        last = o.event;
      }
      const from = latest - withinMinutes * 60_000;
      while (times.length > 0 && (times[0] as number) < from) times.shift();
      if (times.length < count) return QUIET;
      return {
        active: true,
        value: times.length,
        message: `${times.length} ${noun} within ${withinMinutes} min (the rule fires at ${count})${detail(last)}.`,
      };
    },
  };
}

/** Step losses, or epoch losses for a run that writes no steps. */
function lossOf(o: Observation, seenSteps: { value: boolean }): RunMetric | undefined {
  if (o.kind !== 'metric') return undefined;
  if (o.metric.type === 'step') seenSteps.value = true;
  else if (seenSteps.value) return undefined;
  return o.metric;
}

const finite = (loss: unknown): loss is number => typeof loss === 'number' && Number.isFinite(loss);

function lossNotFinite(): ConditionCheck {
  const seenSteps = { value: false };
  return {
    update(o) {
      const m = lossOf(o, seenSteps);
      if (m === undefined) return undefined;
      if (finite(m.loss)) return QUIET;
      const shown = m.loss === null ? 'NaN (null in metrics.jsonl)' : String(m.loss);
      return { active: true, message: `The training loss is ${shown} at step ${m.step}, epoch ${m.epoch}.` };
    },
  };
}

function lossDiverging(factor: number, windowSteps: number): ConditionCheck {
  const seenSteps = { value: false };
  const window: number[] = [];
  let sum = 0;
  let pushed = 0;
  let best = Number.POSITIVE_INFINITY;
  return {
    update(o) {
      const m = lossOf(o, seenSteps);
      if (m === undefined || !finite(m.loss)) return undefined;
      window.push(m.loss);
      sum += m.loss;
      if (window.length > windowSteps) sum -= window.shift() as number;
      // Recompute now and then so rounding does not drift over a long run.
      if (++pushed % windowSteps === 0) sum = window.reduce((a, b) => a + b, 0);
      if (window.length < windowSteps) return QUIET;
      const mean = sum / windowSteps;
      best = Math.min(best, mean);
      if (!(best > 0) || mean <= factor * best) return QUIET;
      return {
        active: true,
        value: round(mean, 6),
        message: `The mean loss of the last ${windowSteps} steps is ${round(mean, 4)} at step ${m.step}, ${round(mean / best, 2)} × the best such mean ${round(best, 4)} (the rule fires above ${factor} ×).`,
      };
    },
  };
}

function rssAbove(mib: number): ConditionCheck {
  return {
    update(o) {
      if (o.kind !== 'resources') return undefined;
      const used = o.sample.rss_bytes / MIB;
      if (!(used > mib)) return QUIET;
      return {
        active: true,
        value: round(used, 1),
        message: `Resident memory is ${round(used, 1)} MiB, above ${mib} MiB.`,
      };
    },
  };
}

function auditFailed(): ConditionCheck {
  const failing = new Map<string, readonly string[]>();
  return {
    update(o) {
      if (o.kind !== 'verification') return undefined;
      if (o.problems.length === 0) failing.delete(o.source);
      else failing.set(o.source, o.problems);
      if (failing.size === 0) return QUIET;
      const [source, problems] = [...failing][0] as [string, readonly string[]];
      const shown = problems.slice(0, 3).join('; ');
      const more = problems.length > 3 ? `; and ${problems.length - 3} more` : '';
      return {
        active: true,
        value: problems.length,
        message: `The audit log ${source} failed verification: ${shown}${more}.`,
      };
    },
  };
}

function runLonger(minutes: number): ConditionCheck {
  return {
    update(o, startedAt) {
      const elapsed = (o.time - startedAt) / 60_000;
      if (!(elapsed > minutes)) return QUIET;
      return {
        active: true,
        value: round(elapsed, 2),
        message: `The run has lasted ${round(elapsed, 2)} min, over its budget of ${minutes} min.`,
      };
    },
  };
}

/** The running check of one condition. */
export function conditionCheck(c: AlertCondition): ConditionCheck {
  switch (c.kind) {
    case 'releases_denied':
      return eventWindow(c.count, c.withinMinutes, isDenial, 'key release(s) denied by policy', (e) =>
        e?.key ? `; the last for ${e.key.uri}` : '',
      );
    case 'attestation_failed':
      return eventWindow(c.count, c.withinMinutes, isAttestationFailure, 'attestation failure(s)', (e) =>
        e?.code ? `; the last ${e.code} at ${e.action}` : '',
      );
    case 'loss_not_finite':
      return lossNotFinite();
    case 'loss_diverging':
      return lossDiverging(c.factor, c.windowSteps);
    case 'rss_above_mib':
      return rssAbove(c.mib);
    case 'audit_verification_failed':
      return auditFailed();
    case 'run_longer_than_minutes':
      return runLonger(c.minutes);
  }
}
