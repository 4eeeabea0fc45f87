import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import type { ResourceSample } from './run-record.js';

/** Options for {@link ResourceSampler}. */
export interface ResourceSamplerOptions {
  /** Milliseconds between samples (default 1000, at least 100). */
  readonly intervalMs?: number;
  /** Receives each sample. */
  readonly onSample?: (sample: ResourceSample) => void;
  readonly now?: () => Date;
}

const MIB = 1024 * 1024;

/**
 * Samples this process's CPU, RSS, heap and event-loop delay every interval, on a timer that does
 * not keep the process alive. Each sample covers the interval since the previous one. Costs one
 * `process.cpuUsage()` and one `process.memoryUsage()` per interval. Its Prometheus gauges are
 * apart (`registerResourceGauges`), so that a run served on no port does not load prom-client.
 */
export class ResourceSampler {
  readonly #interval: number;
  readonly #onSample: ((s: ResourceSample) => void) | undefined;
  readonly #now: () => Date;
  readonly #delay: IntervalHistogram;
  #started = process.hrtime.bigint();
  #lastCpu = process.cpuUsage();
  #lastAt = process.hrtime.bigint();
  #timer: NodeJS.Timeout | undefined;
  #latest: ResourceSample | undefined;

  constructor(options: ResourceSamplerOptions = {}) {
    this.#interval = Math.max(100, options.intervalMs ?? 1000);
    this.#onSample = options.onSample;
    this.#now = options.now ?? (() => new Date());
    this.#delay = monitorEventLoopDelay({ resolution: 10 });
  }

  /** Starts sampling (idempotent). */
  start(): this {
    if (this.#timer) return this;
    // The first interval starts now, not when the sampler was made (key release, decryption).
    this.#started = process.hrtime.bigint();
    this.#lastAt = this.#started;
    this.#lastCpu = process.cpuUsage();
    this.#delay.reset();
    this.#delay.enable();
    this.#timer = setInterval(() => {
      const s = this.sample();
      this.#onSample?.(s);
    }, this.#interval);
    this.#timer.unref();
    return this;
  }

  /** Stops sampling and returns a last sample covering the time since the previous one. */
  stop(): ResourceSample {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    const last = this.sample();
    this.#delay.disable();
    return last;
  }

  /** The latest sample, if any. */
  get latest(): ResourceSample | undefined {
    return this.#latest;
  }

  /** Takes a sample now (and resets the interval's CPU and delay figures). */
  sample(): ResourceSample {
    const at = process.hrtime.bigint();
    const cpu = process.cpuUsage(this.#lastCpu);
    const wallUs = Number(at - this.#lastAt) / 1000;
    const mem = process.memoryUsage();
    const p99 = this.#delay.count > 0 ? this.#delay.percentile(99) / 1e6 : 0;
    this.#delay.reset();
    this.#lastCpu = process.cpuUsage();
    this.#lastAt = at;
    const s: ResourceSample = {
      type: 'resources',
      time: this.#now().toISOString(),
      elapsed_seconds: round(Number(at - this.#started) / 1e9, 3),
      // Under a millisecond the ratio is noise: 0 rather than a spike.
      cpu_percent: wallUs >= 1000 ? round(((cpu.user + cpu.system) / wallUs) * 100, 1) : 0,
      rss_bytes: mem.rss,
      heap_used_bytes: mem.heapUsed,
      event_loop_delay_ms: round(p99, 2),
    };
    this.#latest = s;
    return s;
  }
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** MiB, for messages. */
export function mib(bytes: number): number {
  return Math.round(bytes / MIB);
}
