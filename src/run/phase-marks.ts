import { performance } from 'node:perf_hooks';

/**
 * The phases of a training run: `keys` (the inputs' keys are there), `data` (the splits are in
 * memory), `train` (the first step is next), `epoch` (an epoch's last step has run;
 * `detail.epoch`), `checkpoint` (one is written and recorded, while training goes on;
 * `detail.counter`), `trained` (the epochs loop has ended), `model` (the sealed model is written
 * and recorded; not on an interrupted run), `end` (the run returns: everything is written and the
 * plaintext wiped; `detail.interrupted`). docs/run.md says which orders are certain.
 */
export const RUN_PHASES = [
  'keys',
  'data',
  'train',
  'epoch',
  'checkpoint',
  'trained',
  'model',
  'end',
] as const;

/** One of {@link RUN_PHASES}. */
export type RunPhase = (typeof RUN_PHASES)[number];

/** The prefix of every mark a run makes: `sealtrain.run.keys`, `sealtrain.run.data`, … */
export const PHASE_MARK_PREFIX = 'sealtrain.run.';

/**
 * Marks that a run reached `phase` on Node's performance timeline (`performance.mark`), for
 * profilers and the confidential bench to see where a run's time goes: a `PerformanceObserver`
 * for `mark` entries receives `sealtrain.run.<phase>` with `detail`. The mark is taken off the
 * global buffer at once (observers still get it; `performance.measure` cannot name it), so a run
 * of many checkpoints marks without growing it. Nothing secret goes into a mark.
 */
export function markPhase(
  phase: RunPhase,
  detail?: Readonly<Record<string, number | string | boolean>>,
): void {
  const name = `${PHASE_MARK_PREFIX}${phase}`;
  performance.mark(name, detail ? { detail } : undefined);
  performance.clearMarks(name);
}
