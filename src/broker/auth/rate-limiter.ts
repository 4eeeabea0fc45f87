/** Options for {@link createRateLimiter}. */
export interface RateLimiterOptions {
  /** Requests added to each principal's bucket per second; default 50. */
  readonly ratePerSecond?: number;
  /** Bucket size: the largest burst; default 100. */
  readonly burst?: number;
  /** Clock in milliseconds; default `Date.now`. */
  readonly now?: () => number;
}

/** What {@link RateLimiter.take} says: go ahead, or wait `retryAfterSeconds`. */
export type RateDecision = { readonly ok: true } | { readonly ok: false; readonly retryAfterSeconds: number };

/** A token bucket per principal. */
export interface RateLimiter {
  /** Takes one request from `who`'s bucket. */
  take(who: string): RateDecision;
}

/** Token buckets per principal: `burst` requests at once, then `ratePerSecond`. */
export function createRateLimiter(options: RateLimiterOptions = {}): RateLimiter {
  const rate = options.ratePerSecond ?? 50;
  const burst = options.burst ?? 100;
  const now = options.now ?? Date.now;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(who) {
      const t = now();
      const bucket = buckets.get(who) ?? { tokens: burst, at: t };
      bucket.tokens = Math.min(burst, bucket.tokens + ((t - bucket.at) / 1000) * rate);
      bucket.at = t;
      buckets.set(who, bucket);
      if (bucket.tokens >= 1) {
        bucket.tokens -= 1;
        return { ok: true };
      }
      return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / rate)) };
    },
  };
}
