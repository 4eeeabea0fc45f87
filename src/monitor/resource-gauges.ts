import { Gauge, type Registry } from 'prom-client';
import type { ResourceSampler } from './resources.js';
import type { ResourceSample } from './run-record.js';

/**
 * Registers gauges for `sampler`'s latest sample in `registry`, named `<prefix>_cpu_percent`,
 * `_rss_bytes`, `_heap_used_bytes` and `_event_loop_delay_seconds`. A scrape before the first
 * sample takes one.
 */
export function registerResourceGauges(sampler: ResourceSampler, registry: Registry, prefix: string): void {
  const latest = () => sampler.latest ?? sampler.sample();
  const gauge = (name: string, help: string, value: (s: ResourceSample) => number) =>
    new Gauge({
      name: `${prefix}_${name}`,
      help,
      registers: [registry],
      collect() {
        this.set(value(latest()));
      },
    });
  gauge('cpu_percent', 'Process CPU over the last sampling interval, 100 = one core.', (s) => s.cpu_percent);
  gauge('rss_bytes', 'Resident set size.', (s) => s.rss_bytes);
  gauge('heap_used_bytes', 'V8 heap in use.', (s) => s.heap_used_bytes);
  gauge(
    'event_loop_delay_seconds',
    'Event-loop delay over the last sampling interval, 99th percentile.',
    (s) => s.event_loop_delay_ms / 1000,
  );
}
