import { Counter, Histogram, Registry } from 'prom-client';
import { registerResourceGauges } from '../../monitor/resource-gauges.js';
import { ResourceSampler } from '../../monitor/resources.js';

/** The broker's Prometheus metrics, in a registry of their own (several brokers may share a process). */
export interface BrokerMetrics {
  readonly registry: Registry;
  /** Requests by route template, method and status. */
  readonly requests: Counter<'route' | 'method' | 'status'>;
  /** Release decisions by outcome (`allowed`/`denied`) and reason. */
  readonly releases: Counter<'outcome' | 'reason'>;
  /** Attestations by evidence type and result (`ok`/the error code). */
  readonly attestations: Counter<'type' | 'result'>;
  /** Request latency by route template, in seconds. */
  readonly latency: Histogram<'route'>;
  /** The broker process's CPU, memory and event-loop delay (`sealtrain_broker_process_*`). */
  readonly resources: ResourceSampler;
}

/** Creates the broker's metrics; `registry.metrics()` renders them for `/metrics`. */
export function createBrokerMetrics(): BrokerMetrics {
  const registry = new Registry();
  const registers = [registry];
  const resources = new ResourceSampler();
  registerResourceGauges(resources, registry, 'sealtrain_broker_process');
  return {
    registry,
    requests: new Counter({
      name: 'sealtrain_broker_requests_total',
      help: 'Requests by route, method and HTTP status.',
      labelNames: ['route', 'method', 'status'],
      registers,
    }),
    releases: new Counter({
      name: 'sealtrain_broker_releases_total',
      help: 'Key release decisions by outcome and reason.',
      labelNames: ['outcome', 'reason'],
      registers,
    }),
    attestations: new Counter({
      name: 'sealtrain_broker_attestations_total',
      help: 'Attestations by evidence type and result.',
      labelNames: ['type', 'result'],
      registers,
    }),
    latency: new Histogram({
      name: 'sealtrain_broker_request_duration_seconds',
      help: 'Request latency by route.',
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    resources,
  };
}
