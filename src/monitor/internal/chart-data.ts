// The rows each chart plots, taken from a recorded run. No I/O. Every row carries `label`, the text
// its mark's aria-label shows, with the exact values from the run's files so they can be read back.

import type { AuditEntry } from '../../audit/index.js';
import { isAuthChallenge, type RecordedRun } from '../run-record.js';

/** At most this many points per series; longer series keep every k-th point and the last. */
export const MAX_POINTS = 1000;

/** One plotted point. `x` and `y` are the plotted coordinates; `label` names what they are. */
export interface ChartRow {
  readonly series: string;
  readonly x: number;
  readonly y: number;
  readonly label: string;
  /** The facet the row belongs to (resources chart only). */
  readonly panel?: string;
}

/** A chart's rows and the notes a reader needs (dropped or thinned values). */
export interface ChartData {
  readonly rows: readonly ChartRow[];
  readonly notes: readonly string[];
  /** The x axis title. */
  readonly xTitle: string;
  /** What a chart with no rows says is missing. */
  readonly missing: string;
}

const MIB = 1024 * 1024;

/** Keeps every k-th row of a series and its last, so a series has at most `max` rows. */
export function thin<T>(rows: readonly T[], max = MAX_POINTS): { rows: T[]; every: number } {
  if (rows.length <= max) return { rows: [...rows], every: 1 };
  const every = Math.ceil(rows.length / (max - 1));
  const out = rows.filter((_, i) => i % every === 0);
  const last = rows[rows.length - 1];
  if ((rows.length - 1) % every !== 0 && last !== undefined) out.push(last);
  return { rows: out, every };
}

const finite = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

/** Train loss per step; train and validation loss per epoch, at the epoch's last step. */
export function lossData(run: RecordedRun): ChartData {
  const notes: string[] = [];
  const steps = run.metrics.filter((m) => m.type === 'step');
  const epochs = run.metrics.filter((m) => m.type === 'epoch');
  const bad = steps.filter((m) => !finite(m.loss)).length;
  if (bad > 0) notes.push(`${bad} step(s) with a loss that is not a finite number are not plotted.`);
  const stepRows = steps
    .filter((m) => finite(m.loss))
    .map((m) => ({
      series: 'train (step)',
      x: m.step,
      y: m.loss,
      label: `step ${m.step}: train loss ${m.loss}`,
    }));
  const thinned = thin(stepRows);
  if (thinned.every > 1)
    notes.push(`One step in ${thinned.every} is plotted, and the last (${stepRows.length} steps).`);
  const epochRows: ChartRow[] = [];
  for (const m of epochs) {
    if (finite(m.loss))
      epochRows.push({
        series: 'train (epoch)',
        x: m.step,
        y: m.loss,
        label: `epoch ${m.epoch} (step ${m.step}): train loss ${m.loss}`,
      });
    if (finite(m.validation_loss))
      epochRows.push({
        series: 'validation (epoch)',
        x: m.step,
        y: m.validation_loss,
        label: `epoch ${m.epoch} (step ${m.step}): validation loss ${m.validation_loss}`,
      });
  }
  return {
    rows: [...thinned.rows, ...epochRows],
    notes,
    xTitle: 'step',
    missing: 'metrics.jsonl holds no finite loss.',
  };
}

/**
 * Train and validation accuracy per epoch. An epoch line's `epoch` counts finished epochs (from 1, as
 * training reports them); a step line's is the 0-based epoch it belongs to.
 */
export function accuracyData(run: RecordedRun): ChartData {
  const rows: ChartRow[] = [];
  for (const m of run.metrics) {
    if (m.type !== 'epoch') continue;
    const epoch = m.epoch;
    if (finite(m.accuracy))
      rows.push({
        series: 'train',
        x: epoch,
        y: m.accuracy,
        label: `epoch ${epoch}: train accuracy ${m.accuracy}`,
      });
    if (finite(m.validation_accuracy))
      rows.push({
        series: 'validation',
        x: epoch,
        y: m.validation_accuracy,
        label: `epoch ${epoch}: validation accuracy ${m.validation_accuracy}`,
      });
  }
  return {
    rows,
    notes: [],
    xTitle: 'epoch',
    missing: 'metrics.jsonl holds no epoch accuracy (no epoch finished, or the model is not a classifier).',
  };
}

/** A time unit that keeps axis numbers short for a span of `seconds`. */
export function timeUnit(seconds: number): { divisor: number; name: string } {
  if (seconds >= 2 * 3600) return { divisor: 3600, name: 'h' };
  if (seconds >= 600) return { divisor: 60, name: 'min' };
  return { divisor: 1, name: 's' };
}

/** The resources panels, top to bottom. */
export const RESOURCE_PANELS = ['memory (MiB)', 'CPU (% of one core)', 'event-loop delay p99 (ms)'] as const;

/**
 * RSS and heap in MiB, CPU %, event-loop delay, against the time since the run started (not the
 * sampler's own clock, which starts again when a run is resumed).
 */
export function resourceData(run: RecordedRun): ChartData {
  const samples = thin(run.resources);
  const start = Date.parse(run.window.start);
  const since = (s: { time: string }) => Math.round(Date.parse(s.time) - start) / 1000;
  const last = run.resources[run.resources.length - 1];
  const unit = timeUnit(last ? since(last) : 0);
  const rows: ChartRow[] = [];
  const [memory, cpu, delay] = RESOURCE_PANELS;
  for (const s of samples.rows) {
    const seconds = since(s);
    const x = seconds / unit.divisor;
    const at = `${seconds} s (${s.time})`;
    const add = (panel: string, series: string, y: number, text: string) => {
      if (finite(y)) rows.push({ panel, series, x, y, label: `${at}: ${series} ${text}` });
    };
    add(memory, 'RSS', s.rss_bytes / MIB, `${s.rss_bytes / MIB} MiB (${s.rss_bytes} bytes)`);
    add(
      memory,
      'heap used',
      s.heap_used_bytes / MIB,
      `${s.heap_used_bytes / MIB} MiB (${s.heap_used_bytes} bytes)`,
    );
    add(cpu, 'CPU', s.cpu_percent, `${s.cpu_percent} %`);
    add(delay, 'event-loop delay', s.event_loop_delay_ms, `${s.event_loop_delay_ms} ms`);
  }
  const notes =
    samples.every > 1
      ? [`One sample in ${samples.every} is plotted, and the last (${run.resources.length} samples).`]
      : [];
  return {
    rows,
    notes,
    xTitle: `time since sampling started (${unit.name})`,
    missing: 'resources.jsonl holds no samples.',
  };
}

/** Where a run's key releases are read from: the broker's log when given, else the run's own. */
export function releaseEntries(run: RecordedRun): { entries: AuditEntry[]; source: string | undefined } {
  if (run.brokerAudit !== undefined)
    return {
      // The Azure SDK's unauthenticated first request (a 401 challenge) is not a release refused.
      entries: run.brokerAudit.filter((e) => e.action === 'broker.keys.release' && !isAuthChallenge(e)),
      source: "the broker's audit log",
    };
  return {
    entries: run.audit.filter((e) => e.action === 'run.release'),
    source: run.auditDir ? "the run's audit log" : undefined,
  };
}

/** Outcomes of the releases chart, in legend order. */
export const RELEASE_OUTCOMES = ['allowed', 'denied'] as const;

/**
 * Key releases allowed and denied: the count of each so far, against time from the run's start
 * (releases come first, so times before it are negative).
 */
export function releaseData(run: RecordedRun): ChartData {
  const { entries, source } = releaseEntries(run);
  const start = Date.parse(run.window.start);
  const offsets = entries.map((e) => (Date.parse(e.time) - start) / 1000);
  const unit = timeUnit(Math.max(0, ...offsets.map(Math.abs)));
  const counts = { allowed: 0, denied: 0 };
  const rows = entries.map((e, i): ChartRow => {
    const outcome = e.outcome === 'ok' ? RELEASE_OUTCOMES[0] : RELEASE_OUTCOMES[1];
    counts[outcome] += 1;
    const seconds = offsets[i] ?? 0;
    const key = e.key ? `${e.key.uri}${e.key.version ? `/${e.key.version}` : ''}` : 'no key named';
    const why = e.code ? `, ${e.code}` : '';
    return {
      series: outcome,
      x: seconds / unit.divisor,
      y: counts[outcome],
      label: `${outcome} ${counts[outcome]} at ${e.time} (${seconds} s from the run's start): ${key}${why}`,
    };
  });
  const denied = rows.filter((r) => r.series === 'denied').length;
  return {
    rows,
    notes: rows.length ? [`${rows.length - denied} allowed, ${denied} denied, from ${source}.`] : [],
    xTitle: `time from the run's start (${unit.name})`,
    missing: source
      ? `No key release was recorded in ${source}.`
      : 'No audit log was given, so no key release could be read.',
  };
}
