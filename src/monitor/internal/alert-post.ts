import { createHmac, type KeyObject } from 'node:crypto';
import { request } from 'node:https';
import { rootCertificates } from 'node:tls';

/** Where one POST goes and how it is signed. */
export interface PostTarget {
  readonly url: string;
  readonly secret: KeyObject;
  /** A CA certificate (PEM) trusted beside the system's roots. */
  readonly ca?: string;
  readonly timeoutMs: number;
}

/** What the server answered. */
export interface PostAnswer {
  readonly status: number;
  /** From `Retry-After`, when the answer had one. */
  readonly retryAfterMs?: number;
}

/**
 * The signature header's value: `sha256=` and the hex HMAC-SHA256, keyed with the secret, of the
 * timestamp (decimal Unix seconds, as sent in `X-Sealtrain-Timestamp`), a `.` and the body bytes.
 */
export function signWebhook(
  secret: KeyObject | Uint8Array | string,
  timestamp: string,
  body: string | Uint8Array,
): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

function retryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * One signed HTTPS POST of `body`. Resolves with the status once the answer's headers arrive (the
 * answer's body is read and discarded, within the same timeout); rejects on a network error, on
 * `signal`, or when no answer came within the target's timeout.
 */
export function postOnce(
  target: PostTarget,
  body: string,
  meta: { readonly id: string; readonly timestamp: string; readonly attempt: number },
  signal: AbortSignal,
): Promise<PostAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      target.url,
      {
        method: 'POST',
        agent: false,
        signal,
        ...(target.ca === undefined ? {} : { ca: [...rootCertificates, target.ca] }),
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': 'sealtrain-webhook/1',
          'x-sealtrain-delivery': meta.id,
          'x-sealtrain-attempt': String(meta.attempt),
          'x-sealtrain-timestamp': meta.timestamp,
          'x-sealtrain-signature': signWebhook(target.secret, meta.timestamp, body),
        },
      },
      (res) => {
        // The answer's body is discarded, but still bounded by the timeout: a server that never
        // ends it must not hold a socket open.
        res.on('error', () => {});
        res.on('close', () => clearTimeout(timer));
        res.resume();
        const header = res.headers['retry-after'];
        const after = retryAfter(Array.isArray(header) ? header[0] : header, Date.now());
        resolve({ status: res.statusCode ?? 0, ...(after === undefined ? {} : { retryAfterMs: after }) });
      },
    );
    const timer = setTimeout(
      () => req.destroy(new Error(`no answer within ${target.timeoutMs / 1000} s`)),
      target.timeoutMs,
    );
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.end(body);
  });
}

/** Waits `ms`, or less when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
