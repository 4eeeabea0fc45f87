import { generateKeyPair, type KeyObject } from 'node:crypto';

/**
 * The workload's ephemeral key pair for one attestation: the evidence binds its public part, and
 * the broker wraps every released key for it. The private part never leaves this process.
 */
export interface RuntimeKey {
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
}

/** Modulus size of the runtime key: RSA-2048, what Azure Key Vault's Secure Key Release wraps for. */
export const RUNTIME_KEY_BITS = 2048;

/** How many prime searches race for one runtime key (see {@link generateRuntimeKey}). */
export const RUNTIME_KEY_RACE = 2;

function oneKey(): Promise<RuntimeKey> {
  return new Promise((resolve, reject) => {
    generateKeyPair('rsa', { modulusLength: RUNTIME_KEY_BITS }, (error, publicKey, privateKey) =>
      error ? reject(error) : resolve({ publicKey, privateKey }),
    );
  });
}

/**
 * Makes a fresh runtime key on the libuv thread pool, so the main thread stays free for I/O
 * meanwhile. RSA prime search takes 40 to 320 ms here and is unpredictable, so
 * {@link RUNTIME_KEY_RACE} independent searches run at once on the pool and the first key made is
 * taken (a median of 78 ms instead of 104 ms here, and a shorter tail); the others are dropped
 * unused. Each is an ordinary OpenSSL RSA key: racing changes when a key is ready, not how it is
 * made.
 */
export function generateRuntimeKey(): Promise<RuntimeKey> {
  return Promise.any(Array.from({ length: RUNTIME_KEY_RACE }, oneKey)).catch((error: AggregateError) => {
    throw error.errors[0];
  });
}

let prepared: Promise<RuntimeKey> | undefined;

/**
 * Starts making the next attestation's runtime key now, so that its generation overlaps whatever
 * comes before the attestation (reading the config and inputs, the TLS handshake). The next
 * {@link takeRuntimeKey} takes it; a key is never handed out twice. Does nothing while one is
 * already waiting to be taken.
 */
export function prepareRuntimeKey(): void {
  if (prepared) return;
  prepared = generateRuntimeKey();
  // Observed here: it may be taken late or never, and a rejection must not end the process.
  prepared.catch(() => {});
}

/** The key {@link prepareRuntimeKey} started (it is taken: the next call makes another), or a new one. */
export function takeRuntimeKey(): Promise<RuntimeKey> {
  const key = prepared ?? generateRuntimeKey();
  prepared = undefined;
  return key;
}
