import { Counter, Gauge, Registry } from 'prom-client';
import type { RunMetric } from '../run/metrics-log.js';
import { registerResourceGauges } from './resource-gauges.js';
import type { ResourceSampler } from './resources.js';

/**
 * A training run's Prometheus metrics in a registry of their own: the latest step's loss,
 * accuracy, learning rate and throughput, steps and epochs done, the last epoch's validation
 * figures, and the process's resources as `sampler` samples them (see {@link ResourceSampler}).
 * Labelled with the run id once known.
 */
export class TrainingMetrics {
  readonly registry = new Registry();
  readonly #loss: Gauge;
  readonly #accuracy: Gauge;
  readonly #lr: Gauge;
  readonly #throughput: Gauge;
  readonly #steps: Counter;
  readonly #epoch: Gauge;
  readonly #validationLoss: Gauge;
  readonly #validationAccuracy: Gauge;
  readonly #epochSeconds: Gauge;

  constructor(sampler: ResourceSampler) {
    if (typeof (sampler as Partial<ResourceSampler> | undefined)?.sample !== 'function')
      throw new TypeError(
        'TrainingMetrics takes the ResourceSampler whose samples it serves: new TrainingMetrics(sampler).',
      );
    const registers = [this.registry];
    const gauge = (name: string, help: string) =>
      new Gauge({ name: `sealtrain_train_${name}`, help, registers });
    this.#loss = gauge('loss', 'Training loss of the latest step (NaN when it diverged).');
    this.#accuracy = gauge('accuracy', 'Training accuracy of the latest step.');
    this.#lr = gauge('learning_rate', 'Learning rate of the latest step.');
    this.#throughput = gauge('samples_per_second', 'Examples per second over the latest step.');
    this.#epoch = gauge('epoch', 'Epochs finished.');
    this.#validationLoss = gauge('validation_loss', 'Validation loss after the latest epoch.');
    this.#validationAccuracy = gauge('validation_accuracy', 'Validation accuracy after the latest epoch.');
    this.#epochSeconds = gauge('epoch_seconds', 'Wall time of the latest epoch.');
    this.#steps = new Counter({
      name: 'sealtrain_train_steps_total',
      help: 'Optimizer steps taken.',
      registers,
    });
    registerResourceGauges(sampler, this.registry, 'sealtrain_train_process');
  }

  /** Labels every series with the run id (once the run folder exists). */
  label(runId: string): void {
    this.registry.setDefaultLabels({ run_id: runId });
  }

  /** Updates the gauges from one line of `metrics.jsonl`. */
  observe(m: RunMetric): void {
    if (m.type === 'step') {
      this.#loss.set(m.loss ?? Number.NaN);
      if (m.accuracy !== null) this.#accuracy.set(m.accuracy);
      this.#lr.set(m.learning_rate);
      this.#throughput.set(m.samples_per_second);
      this.#steps.inc();
    } else {
      this.#epoch.set(m.epoch);
      this.#epochSeconds.set(m.seconds);
      if (m.validation_loss !== null) this.#validationLoss.set(m.validation_loss);
      if (m.validation_accuracy !== null) this.#validationAccuracy.set(m.validation_accuracy);
    }
  }
}
