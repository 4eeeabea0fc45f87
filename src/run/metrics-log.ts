import { appendFile, readFile } from 'node:fs/promises';
import { fromFsError } from '../errors/index.js';
import { writeFileAtomic } from '../store/index.js';

/** One optimizer step, as a line of `metrics.jsonl`. */
export interface StepMetric {
  readonly type: 'step';
  readonly epoch: number;
  readonly step: number;
  readonly loss: number;
  readonly accuracy: number | null;
  readonly learning_rate: number;
  readonly samples_per_second: number;
  readonly time: string;
}

/** One epoch, as a line of `metrics.jsonl`. */
export interface EpochMetric {
  readonly type: 'epoch';
  readonly epoch: number;
  readonly step: number;
  readonly loss: number;
  readonly accuracy: number | null;
  readonly validation_loss: number | null;
  readonly validation_accuracy: number | null;
  readonly seconds: number;
  readonly samples_per_second: number;
  readonly time: string;
}

/** Any line of `metrics.jsonl`. */
export type RunMetric = StepMetric | EpochMetric;

/**
 * `metrics.jsonl`, appended in batches (once a second has passed since the last, and whenever
 * flushed: at each checkpoint and at the run's end), so a step costs a string, not a system call
 * or a promise. Losses and accuracies only: never data or keys.
 */
export class MetricsLog {
  readonly path: string;
  readonly #listener: ((m: RunMetric) => void) | undefined;
  #pending: string[] = [];
  #lastFlush = Date.now();
  /** The appends started so far, in order; rejected from the first that failed on. */
  #written: Promise<void> = Promise.resolve();

  /** `listener` sees each metric as it is queued (monitoring, alert rules). */
  constructor(path: string, listener?: (m: RunMetric) => void) {
    this.path = path;
    this.#listener = listener;
  }

  /**
   * Queues a line; starts appending the queue when a second has passed. A failed append is thrown
   * by the next {@link written} or {@link flush}, and nothing is appended after it.
   */
  add(metric: RunMetric): void {
    this.#pending.push(JSON.stringify(metric));
    try {
      this.#listener?.(metric);
    } catch {
      // A monitor's failure must not end training; the monitor reports its own problems.
    }
    if (Date.now() - this.#lastFlush >= 1000) this.#append();
  }

  /** Resolves when every append started so far has ended; rejects with the first that failed. */
  written(): Promise<void> {
    return this.#written;
  }

  /** Appends every queued line; rejects as {@link written} does. */
  flush(): Promise<void> {
    this.#append();
    return this.#written;
  }

  #append(): void {
    this.#lastFlush = Date.now();
    if (this.#pending.length === 0) return;
    const text = `${this.#pending.join('\n')}\n`;
    this.#pending = [];
    this.#written = this.#written.then(() =>
      appendFile(this.path, text, { mode: 0o600 }).catch((e: unknown) => {
        throw fromFsError(e, 'write', this.path);
      }),
    );
    // Observed by the next written() or flush(); a run that ends on another error drops it.
    this.#written.catch(() => {});
  }

  /**
   * On resume: keeps only the lines up to a checkpoint (steps ≤ `step`, epochs ≤ `epoch`), so the
   * steps a killed run took after its last checkpoint are not counted twice.
   */
  async trimTo(step: number, epoch: number): Promise<void> {
    const text = await readFile(this.path, 'utf8').catch(() => '');
    const kept = parseMetrics(text)
      .filter((m) => (m.type === 'step' ? m.step <= step : m.epoch <= epoch))
      .map((m) => JSON.stringify(m));
    await writeFileAtomic(this.path, kept.length ? `${kept.join('\n')}\n` : '', { overwrite: true });
  }
}

/** The lines of a `metrics.jsonl` text; lines that do not parse (a torn last line) are skipped. */
function parseMetrics(text: string): RunMetric[] {
  const out: RunMetric[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as RunMetric);
    } catch {}
  }
  return out;
}

/** Reads `metrics.jsonl` (for reports and tests); unparseable lines are skipped. */
export async function readMetrics(path: string): Promise<RunMetric[]> {
  const text = await readFile(path, 'utf8').catch((e: unknown) => {
    throw fromFsError(e, 'read', path);
  });
  return parseMetrics(text);
}
