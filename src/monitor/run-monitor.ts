import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunMetric } from '../run/metrics-log.js';
import type { RunManifest } from '../run/run-folder.js';
import type { RunObserver } from '../run/run-training.js';
import { type MetricsServer, serveMetrics } from './metrics-server.js';
import { ResourceSampler } from './resources.js';
import { MONITOR_FILES, type ResourceSample } from './run-record.js';
import type { TrainingMetrics } from './training-metrics.js';

/** What a live run feeds its alert rules (the alert engine implements it). */
export interface LiveAlerts {
  observeMetric(m: RunMetric): void;
  observeResources(r: ResourceSample): void;
  /** The clock moved (time budgets); called with each resource sample. */
  tick?(now: Date): void;
  /** Flushes pending deliveries; called once at the end of the run. */
  close(): Promise<void>;
}

/** Options for {@link RunMonitor}. */
export interface RunMonitorOptions {
  /** Serve Prometheus metrics on this port (0: any free port); none when absent. */
  readonly metricsPort?: number;
  readonly metricsHost?: string;
  /** Milliseconds between resource samples (default 1000). */
  readonly sampleIntervalMs?: number;
  /** Makes the run's alert rules once its folder exists (they write `alerts.jsonl` there). */
  readonly alerts?: (dir: string, manifest: RunManifest) => LiveAlerts | Promise<LiveAlerts>;
  /** Problems that must not stop training (a full disk for `resources.jsonl`, say). */
  readonly warn?: (message: string) => void;
}

/**
 * Watches a training run ({@link RunObserver}): Prometheus metrics (training figures and process
 * resources) on `--metrics-port`, resource samples appended to `resources.jsonl` in the run
 * folder, and every metric and sample passed to the run's alert rules. Nothing here can block a
 * step: writes are queued, and a failed write is reported once and does not stop the run.
 */
export class RunMonitor implements RunObserver {
  /** The process's resources, sampled while the run trains. */
  readonly sampler: ResourceSampler;
  readonly #o: RunMonitorOptions;
  #server: MetricsServer | undefined;
  /** The Prometheus figures, made only when they are served: prom-client loads with them. */
  #metrics: TrainingMetrics | undefined;
  #runId: string | undefined;
  #alerts: LiveAlerts | undefined;
  #resourcesPath: string | undefined;
  #writes: Promise<void> = Promise.resolve();
  #warned = false;

  constructor(options: RunMonitorOptions = {}) {
    this.#o = options;
    this.sampler = new ResourceSampler({
      ...(options.sampleIntervalMs ? { intervalMs: options.sampleIntervalMs } : {}),
      onSample: (s) => this.#sampled(s),
    });
  }

  /**
   * Binds the metrics port, if one was asked for: before any work, so a port in use fails the
   * command before keys are released or data decrypted. Returns the URL. The figures are kept from
   * this call on: a metric observed before it is not counted.
   */
  async listen(): Promise<string | undefined> {
    if (this.#o.metricsPort === undefined || this.#server) return this.#server?.url;
    const { TrainingMetrics } = await import('./training-metrics.js');
    const metrics = this.#metrics ?? new TrainingMetrics(this.sampler);
    if (this.#runId !== undefined) metrics.label(this.#runId);
    this.#metrics = metrics; // from now on, while the port is bound
    try {
      this.#server = await serveMetrics(metrics.registry, {
        port: this.#o.metricsPort,
        ...(this.#o.metricsHost ? { host: this.#o.metricsHost } : {}),
      });
    } catch (error) {
      this.#metrics = undefined;
      throw error;
    }
    return this.#server.url;
  }

  async started(dir: string, manifest: RunManifest): Promise<void> {
    this.#runId = manifest.run_id;
    this.#metrics?.label(manifest.run_id);
    this.#resourcesPath = join(dir, MONITOR_FILES.resources);
    if (this.#o.alerts) this.#alerts = await this.#o.alerts(dir, manifest);
    this.sampler.start();
    // A first sample as training starts: rules on memory see the process before the first step.
    this.#sampled(this.sampler.sample());
  }

  metric(m: RunMetric): void {
    try {
      this.#metrics?.observe(m);
      this.#alerts?.observeMetric(m);
    } catch (error) {
      this.#warnOnce(`monitoring failed on a metric (${(error as Error).message}); training goes on.`);
    }
  }

  #warnOnce(message: string): void {
    if (this.#warned) return;
    this.#warned = true;
    this.#o.warn?.(message);
  }

  async finished(): Promise<void> {
    this.#sampled(this.sampler.stop());
    await this.#writes;
    // The run's outcome stands whatever the alerts' last writes do: their failure is a warning.
    await this.#alerts?.close().catch((error: unknown) => {
      this.#o.warn?.(`the alert rules could not finish: ${(error as Error).message}`);
    });
  }

  /** Stops serving metrics (after the run, so a scraper sees the final figures until then). */
  async close(): Promise<void> {
    this.sampler.stop();
    await this.#server?.close();
    this.#server = undefined;
    this.#metrics = undefined;
  }

  #sampled(s: ResourceSample): void {
    const path = this.#resourcesPath;
    if (path === undefined) return;
    const line = `${JSON.stringify(s)}\n`;
    this.#writes = this.#writes.then(() =>
      appendFile(path, line, { mode: 0o600 }).catch((error: unknown) => {
        if (this.#warned) return;
        this.#warned = true;
        this.#o.warn?.(`cannot append to ${path} (${(error as Error).message}); training goes on.`);
      }),
    );
    this.#alerts?.observeResources(s);
    this.#alerts?.tick?.(new Date(s.time));
  }
}
