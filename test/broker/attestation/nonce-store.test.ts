import { describe, expect, it } from 'vitest';
import { createNonceStore, NONCE_TTL_MS } from '../../../src/broker/attestation/index.js';
import { isSealtrainError } from '../../../src/errors/index.js';

function store(options: { max?: number; ttlMs?: number } = {}) {
  const clock = { ms: 1_000_000 };
  return { clock, nonces: createNonceStore({ ...options, now: () => clock.ms }) };
}

describe('createNonceStore', () => {
  it('issues distinct 32-byte base64url nonces', () => {
    const { nonces } = store();
    const a = nonces.issue();
    const b = nonces.issue();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a, 'base64url')).toHaveLength(32);
    expect(a).not.toBe(b);
    expect(nonces.size).toBe(2);
  });

  it('accepts a nonce once, then names it spent', () => {
    const { nonces } = store();
    const n = nonces.issue();
    expect(nonces.status(n)).toBe('live');
    expect(nonces.consume(n)).toBe(true);
    expect(nonces.consume(n)).toBe(false);
    expect(nonces.status(n)).toBe('spent');
    expect(nonces.size).toBe(0);
  });

  it('refuses a nonce it never issued', () => {
    const { nonces } = store();
    nonces.issue();
    expect(nonces.status('AAAA')).toBe('unknown');
    expect(nonces.consume('AAAA')).toBe(false);
    expect(nonces.consume(undefined as unknown as string)).toBe(false);
  });

  it('expires a nonce after the default 120 s lifetime, and spends it anyway', () => {
    const { nonces, clock } = store();
    const early = nonces.issue();
    const late = nonces.issue();
    clock.ms += NONCE_TTL_MS - 1;
    expect(nonces.consume(early)).toBe(true);
    clock.ms += 1;
    expect(nonces.status(late)).toBe('expired');
    expect(nonces.consume(late)).toBe(false);
    expect(nonces.consume(late)).toBe(false);
  });

  it('is bounded: a full store refuses to issue, and frees room as nonces expire or are used', () => {
    const { nonces, clock } = store({ max: 3, ttlMs: 1000 });
    const first = nonces.issue();
    nonces.issue();
    nonces.issue();
    let caught: unknown;
    try {
      nonces.issue();
    } catch (error) {
      caught = error;
    }
    expect(isSealtrainError(caught, 'ERR_BROKER_REQUEST')).toBe(true);
    expect(isSealtrainError(caught) && caught.details.reason).toBe('nonce-store-full');
    expect(nonces.size).toBe(3);
    expect(nonces.consume(first)).toBe(true);
    nonces.issue();
    clock.ms += 1000;
    for (let i = 0; i < 3; i++) nonces.issue();
    expect(nonces.size).toBe(3);
  });

  it('keeps the memory of spent nonces bounded too', () => {
    const { nonces } = store({ max: 2 });
    const spent = [nonces.issue(), nonces.issue()];
    for (const n of spent) nonces.consume(n);
    const third = nonces.issue();
    nonces.consume(third);
    expect(nonces.status(third)).toBe('spent');
    expect(nonces.status(spent[0] ?? '')).toBe('unknown');
  });

  it('refuses bad options and a random source that returns the wrong size', () => {
    expect(() => createNonceStore({ ttlMs: 0 })).toThrow(/ttlMs is not a positive integer/);
    expect(() => createNonceStore({ max: 1.5 })).toThrow(/max is not a positive integer/);
    const short = createNonceStore({ random: () => new Uint8Array(8) });
    expect(() => short.issue()).toThrow(/random did not return 32 bytes/);
  });
});
