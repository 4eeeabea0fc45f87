import { type KeyObject, randomUUID, timingSafeEqual } from 'node:crypto';
import { SealtrainError } from '../errors/index.js';
import { postOnce, signWebhook, sleep } from './internal/alert-post.js';

export { signWebhook };

/** One webhook receiver, with its secret loaded (see `loadAlertRules`). */
export interface WebhookTarget {
  /** Its name in the rules file; log lines and audit entries name the webhook by it, never by URL. */
  readonly name: string;
  /** An `https:` URL. */
  readonly url: string;
  /** The HMAC-SHA256 key. */
  readonly secret: KeyObject;
  /** A CA certificate (PEM) trusted beside the system's roots. */
  readonly ca?: string;
  /** Retries after the first attempt. */
  readonly retries: number;
  /** How long one attempt may take. */
  readonly timeoutMs: number;
}

/** Options for {@link WebhookSender}. */
export interface WebhookSenderOptions {
  /** Deliveries waiting to start; when full, the oldest is dropped (and counted). Default 100. */
  readonly maxQueue?: number;
  /** Deliveries under way at once. Default 2. */
  readonly concurrency?: number;
  /** Exponential backoff between attempts: `baseMs · 2^(n-1)`, at most `maxMs`, with jitter. */
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
  /** Randomness for the jitter, in [0, 1); default `Math.random`. */
  readonly random?: () => number;
  /** The clock for `X-Sealtrain-Timestamp`; default now. */
  readonly clock?: () => Date;
}

/**
 * How a delivery ended: `delivered` (a 2xx answer), `rejected` (another status that is not worth
 * retrying: 3xx, 4xx but 429), `gave-up` (every attempt failed on a network error, a timeout, 429
 * or 5xx), `dropped` (the queue was full), `deadline` (still pending when `close` gave up
 * waiting), `closed` (sent after `close`).
 */
export type DeliveryOutcome = 'delivered' | 'rejected' | 'gave-up' | 'dropped' | 'deadline' | 'closed';

/** One delivery's end, reported to {@link WebhookSender.onResult} listeners. */
export interface DeliveryResult {
  /** Also sent as `X-Sealtrain-Delivery`, the same on every attempt: receivers dedupe by it. */
  readonly id: string;
  readonly webhook: string;
  /** What the caller passed to `send` (the engine passes the rule's name). */
  readonly tag?: string;
  readonly outcome: DeliveryOutcome;
  readonly ok: boolean;
  readonly attempts: number;
  /** The last HTTP status, when an answer came. */
  readonly status?: number;
  /** The last network error or status, in words. */
  readonly error?: string;
}

/** Counts when a sender closes. */
export interface WebhookCloseSummary {
  readonly delivered: number;
  /** Rejected or given up. */
  readonly failed: number;
  /** Pending at the deadline, or sent after close. */
  readonly undelivered: number;
  /** Dropped because the queue was full. */
  readonly dropped: number;
}

interface Delivery {
  readonly id: string;
  readonly target: WebhookTarget;
  readonly body: string;
  readonly tag: string | undefined;
  attempts: number;
  status: number | undefined;
  error: string | undefined;
}

/**
 * Delivers JSON bodies to webhooks by signed HTTPS POST (see `docs/monitor.md`), in the
 * background. Guarantee: {@link send} returns at once and never throws for a network problem; a
 * slow or dead receiver costs memory bounded by `maxQueue`, never the caller's time. Call
 * {@link close} before the process ends: timers and sockets keep running until then.
 */
export class WebhookSender {
  readonly #targets: ReadonlyMap<string, WebhookTarget>;
  readonly #maxQueue: number;
  readonly #concurrency: number;
  readonly #backoff: { readonly baseMs: number; readonly maxMs: number };
  readonly #random: () => number;
  readonly #clock: () => Date;
  readonly #queue: Delivery[] = [];
  readonly #listeners = new Set<(result: DeliveryResult) => void>();
  readonly #abort = new AbortController();
  readonly #idle: Array<() => void> = [];
  #active = 0;
  #closed = false;
  readonly #counts = { delivered: 0, failed: 0, undelivered: 0, dropped: 0 };

  constructor(targets: readonly WebhookTarget[], options: WebhookSenderOptions = {}) {
    this.#targets = new Map(targets.map((t) => [t.name, t]));
    this.#maxQueue = Math.max(1, options.maxQueue ?? 100);
    this.#concurrency = Math.max(1, options.concurrency ?? 2);
    this.#backoff = options.backoff ?? { baseMs: 500, maxMs: 30_000 };
    this.#random = options.random ?? Math.random;
    this.#clock = options.clock ?? (() => new Date());
  }

  /** The webhook names this sender knows. */
  get webhooks(): readonly string[] {
    return [...this.#targets.keys()];
  }

  /** Deliveries waiting or under way. */
  get pending(): number {
    return this.#queue.length + this.#active;
  }

  /** Deliveries dropped so far because the queue was full. */
  get dropped(): number {
    return this.#counts.dropped;
  }

  /**
   * Queues `body` (serialised as JSON) for `webhook` and returns the delivery id at once.
   *
   * @throws {SealtrainError} `ERR_INTERNAL` when no webhook has that name (rules files are checked
   *   for this when loaded).
   */
  send(webhook: string, body: unknown, tag?: string): string {
    const target = this.#targets.get(webhook);
    if (target === undefined)
      throw new SealtrainError('ERR_INTERNAL', `No webhook is named "${webhook}".`, { details: { webhook } });
    const delivery: Delivery = {
      id: randomUUID(),
      target,
      body: JSON.stringify(body),
      tag,
      attempts: 0,
      status: undefined,
      error: undefined,
    };
    if (this.#closed) {
      this.#finish(delivery, 'closed');
      return delivery.id;
    }
    if (this.#queue.length >= this.#maxQueue) {
      const oldest = this.#queue.shift();
      if (oldest) this.#finish(oldest, 'dropped');
    }
    this.#queue.push(delivery);
    this.#pump();
    return delivery.id;
  }

  /** Calls `listener` with every delivery's end; returns a function that unsubscribes it. */
  onResult(listener: (result: DeliveryResult) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Stops accepting deliveries and waits up to `deadlineMs` for the pending ones; those still
   * pending then are abandoned (reported as `deadline`). Resolves with the counts of the
   * sender's whole life.
   */
  async close(deadlineMs = 5000): Promise<WebhookCloseSummary> {
    this.#closed = true;
    if (this.pending > 0) {
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, deadlineMs));
      });
      await Promise.race([this.#whenIdle(), deadline]);
      clearTimeout(timer);
      if (this.pending > 0) {
        this.#abort.abort();
        for (const d of this.#queue.splice(0)) this.#finish(d, 'deadline');
        await this.#whenIdle();
      }
    }
    return { ...this.#counts };
  }

  #whenIdle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #pump(): void {
    while (this.#active < this.#concurrency && this.#queue.length > 0) {
      const delivery = this.#queue.shift() as Delivery;
      this.#active++;
      void this.#deliver(delivery).finally(() => {
        this.#active--;
        this.#pump();
        if (this.pending === 0) for (const resolve of this.#idle.splice(0)) resolve();
      });
    }
  }

  async #deliver(d: Delivery): Promise<void> {
    const signal = this.#abort.signal;
    for (;;) {
      if (signal.aborted) return this.#finish(d, 'deadline');
      d.attempts++;
      let waitAtLeast = 0;
      try {
        const timestamp = String(Math.floor(this.#clock().getTime() / 1000));
        const answer = await postOnce(d.target, d.body, { id: d.id, timestamp, attempt: d.attempts }, signal);
        d.status = answer.status;
        d.error = `HTTP ${answer.status}`;
        if (answer.status >= 200 && answer.status < 300) return this.#finish(d, 'delivered');
        if (answer.status !== 429 && answer.status < 500) return this.#finish(d, 'rejected');
        waitAtLeast = answer.retryAfterMs ?? 0;
      } catch (error) {
        if (signal.aborted) return this.#finish(d, 'deadline');
        d.status = undefined;
        d.error = error instanceof Error ? error.message : String(error);
      }
      if (d.attempts > d.target.retries) return this.#finish(d, 'gave-up');
      await sleep(this.#delay(d.attempts, waitAtLeast), signal);
    }
  }

  /** Full backoff after `attempt` failures: half fixed, half random; at least `Retry-After`. */
  #delay(attempt: number, waitAtLeast: number): number {
    const { baseMs, maxMs } = this.#backoff;
    const cap = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
    return Math.max(cap / 2 + this.#random() * (cap / 2), Math.min(waitAtLeast, maxMs));
  }

  #finish(d: Delivery, outcome: DeliveryOutcome): void {
    if (outcome === 'delivered') this.#counts.delivered++;
    else if (outcome === 'rejected' || outcome === 'gave-up') this.#counts.failed++;
    else if (outcome === 'dropped') this.#counts.dropped++;
    else this.#counts.undelivered++;
    const result: DeliveryResult = {
      id: d.id,
      webhook: d.target.name,
      ...(d.tag === undefined ? {} : { tag: d.tag }),
      outcome,
      ok: outcome === 'delivered',
      attempts: d.attempts,
      ...(d.status === undefined ? {} : { status: d.status }),
      ...(d.error === undefined || outcome === 'delivered' ? {} : { error: d.error }),
    };
    for (const listener of this.#listeners) {
      try {
        listener(result);
      } catch {}
    }
  }
}

/** What a receiver got: the two headers and the raw body. */
export interface SignedRequest {
  readonly timestamp: string | undefined;
  readonly signature: string | undefined;
  readonly body: string | Uint8Array;
}

/**
 * Checks a webhook request as a receiver should: the signature matches the secret (compared in
 * constant time) and the timestamp is within `toleranceSeconds` (default 300) of `now`, so a
 * captured request cannot be replayed later. Receivers dedupe retries by `X-Sealtrain-Delivery`.
 */
export function verifyWebhookSignature(
  secret: KeyObject | Uint8Array | string,
  request: SignedRequest,
  options: { readonly now?: Date; readonly toleranceSeconds?: number } = {},
): boolean {
  const { timestamp, signature } = request;
  if (timestamp === undefined || signature === undefined || !/^\d{1,12}$/.test(timestamp)) return false;
  const now = (options.now ?? new Date()).getTime() / 1000;
  if (Math.abs(now - Number(timestamp)) > (options.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, request.body));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
