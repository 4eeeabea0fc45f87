import { generateKeyPair, type KeyObject } from 'node:crypto';

/**
 * The workload's ephemeral key pair for one attestation: the evidence binds its public part, and
 * the broker wraps every released key for it. The private part never leaves this process.
 */
export interface RuntimeKey {
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
}

/**
 * The kind of runtime key: `ec` (P-256, for the `ECDH_ES_A256GCM` wrapping the sealtrain broker
 * answers; made in well under a millisecond) or `rsa` (RSA-2048, what Azure Key Vault's Secure
 * Key Release wraps for; 40 to 320 ms of prime search).
 */
export type RuntimeKeyKind = 'ec' | 'rsa';

/** Modulus size of an `rsa` runtime key: RSA-2048, what Azure Key Vault's Secure Key Release wraps for. */
export const RUNTIME_KEY_BITS = 2048;

/** The curve of an `ec` runtime key. */
export const RUNTIME_KEY_CURVE = 'P-256';

/** How many prime searches race for one `rsa` runtime key (see {@link generateRuntimeKey}). */
export const RUNTIME_KEY_RACE = 2;

function oneKey(kind: RuntimeKeyKind): Promise<RuntimeKey> {
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, publicKey: KeyObject, privateKey: KeyObject) =>
      error ? reject(error) : resolve({ publicKey, privateKey });
    if (kind === 'ec') generateKeyPair('ec', { namedCurve: RUNTIME_KEY_CURVE }, done);
    else generateKeyPair('rsa', { modulusLength: RUNTIME_KEY_BITS }, done);
  });
}

/**
 * Makes a fresh runtime key on the libuv thread pool, so the main thread stays free for I/O
 * meanwhile. For `rsa`, prime search takes 40 to 320 ms here and is unpredictable, so
 * {@link RUNTIME_KEY_RACE} independent searches run at once on the pool and the first key made is
 * taken (a median of 78 ms instead of 104 ms here, and a shorter tail); the others are dropped
 * unused. Each is an ordinary OpenSSL key: racing changes when a key is ready, not how it is made.
 */
export function generateRuntimeKey(kind: RuntimeKeyKind = 'ec'): Promise<RuntimeKey> {
  if (kind === 'ec') return oneKey('ec');
  return Promise.any(Array.from({ length: RUNTIME_KEY_RACE }, () => oneKey('rsa'))).catch(
    (error: AggregateError) => {
      throw error.errors[0];
    },
  );
}

let prepared: { kind: RuntimeKeyKind; key: Promise<RuntimeKey> } | undefined;

/**
 * Starts making the next attestation's runtime key now, so that its generation overlaps whatever
 * comes before the attestation (reading the config and inputs, the TLS handshake). The next
 * {@link takeRuntimeKey} of the same kind takes it; a key is never handed out twice. Does nothing
 * while one of that kind is already waiting to be taken.
 */
export function prepareRuntimeKey(kind: RuntimeKeyKind = 'ec'): void {
  if (prepared?.kind === kind) return;
  prepared = { kind, key: generateRuntimeKey(kind) };
  // Observed here: it may be taken late or never, and a rejection must not end the process.
  prepared.key.catch(() => {});
}

/** The key {@link prepareRuntimeKey} started, when of this kind (it is taken: the next call makes another), or a new one. */
export function takeRuntimeKey(kind: RuntimeKeyKind = 'ec'): Promise<RuntimeKey> {
  const key = prepared?.kind === kind ? prepared.key : generateRuntimeKey(kind);
  prepared = undefined;
  return key;
}
