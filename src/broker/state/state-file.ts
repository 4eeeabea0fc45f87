import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto';
import { SealtrainError } from '../../errors/index.js';
import { type BrokerDoc, parseDoc } from './state-model.js';

/** scrypt parameters stored in the state file. */
export interface StateKdf {
  readonly name: 'scrypt';
  readonly N: number;
  readonly r: number;
  readonly p: number;
  /** Base64 salt, 16 bytes. */
  readonly salt: string;
}

/** The state file on disk: a header in clear and the whole document sealed with AES-256-GCM. */
export interface StateEnvelope {
  readonly format: 'sealtrain-broker-state';
  readonly version: 1;
  readonly kdf: StateKdf;
  /** Increases by one with every write; bound into the ciphertext. */
  readonly generation: number;
  /** Base64, 12 bytes. */
  readonly nonce: string;
  /** Base64 of ciphertext ‖ 16-byte tag. */
  readonly sealed: string;
}

/** Smallest and largest scrypt cost N the state accepts. */
export const MIN_SCRYPT_N = 2 ** 10;
export const MAX_SCRYPT_N = 2 ** 20;
/** Default scrypt cost for a new state: 2^17 (128 MiB with r = 8). */
export const DEFAULT_SCRYPT_N = 2 ** 17;
/** Largest state file the broker reads. */
export const MAX_STATE_BYTES = 64 * 1024 * 1024;

function stateError(path: string, why: string, cause?: unknown): SealtrainError {
  return new SealtrainError('ERR_BROKER_STATE', `Cannot open the broker state ${path}: ${why}.`, {
    ...(cause === undefined ? {} : { cause }),
    details: { path },
  });
}

/** A new scrypt header with a fresh salt. */
export function newKdf(cost: number = DEFAULT_SCRYPT_N): StateKdf {
  if (!Number.isInteger(Math.log2(cost)) || cost < MIN_SCRYPT_N || cost > MAX_SCRYPT_N) {
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `The scrypt cost must be a power of two from ${MIN_SCRYPT_N} to ${MAX_SCRYPT_N}, not ${cost}.`,
    );
  }
  return { name: 'scrypt', N: cost, r: 8, p: 1, salt: randomBytes(16).toString('base64') };
}

/** scrypt(passphrase, salt) → the 32-byte broker master key. The caller wipes it. */
export function deriveMasterKey(passphrase: Uint8Array, kdf: StateKdf): Promise<Buffer> {
  const maxmem = 128 * kdf.N * kdf.r + 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    scrypt(
      passphrase,
      Buffer.from(kdf.salt, 'base64'),
      32,
      { N: kdf.N, r: kdf.r, p: kdf.p, maxmem },
      (e, k) => (e ? reject(e) : resolve(k)),
    );
  });
}

function aad(kdf: StateKdf, generation: number): Buffer {
  return Buffer.from(`sealtrain-broker-state|1|${JSON.stringify(kdf)}|${generation}`);
}

/** Seals `doc` under `key` with a fresh nonce, as the JSON text of the state file. */
export function sealState(
  doc: BrokerDoc,
  key: Uint8Array,
  header: { kdf: StateKdf; generation: number },
): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(aad(header.kdf, header.generation));
  const plain = Buffer.from(JSON.stringify(doc));
  const sealed = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  plain.fill(0);
  const envelope: StateEnvelope = {
    format: 'sealtrain-broker-state',
    version: 1,
    kdf: header.kdf,
    generation: header.generation,
    nonce: nonce.toString('base64'),
    sealed: sealed.toString('base64'),
  };
  return `${JSON.stringify(envelope, null, 1)}\n`;
}

/** Parses the clear header of a state file; `ERR_BROKER_STATE` naming the field when malformed. */
export function parseEnvelope(path: string, text: string): StateEnvelope {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw stateError(path, 'it is not JSON', error);
  }
  if (value === null || typeof value !== 'object') throw stateError(path, 'it is not a JSON object');
  if (value.format !== 'sealtrain-broker-state')
    throw stateError(path, 'field "format" is not sealtrain-broker-state');
  if (value.version !== 1) throw stateError(path, `field "version" is ${String(value.version)}, not 1`);
  const kdf = value.kdf as Record<string, unknown> | undefined;
  const N = kdf?.N;
  if (kdf?.name !== 'scrypt' || typeof N !== 'number' || N < MIN_SCRYPT_N || N > MAX_SCRYPT_N) {
    throw stateError(path, 'field "kdf" is not a scrypt header within limits');
  }
  if (kdf.r !== 8 || kdf.p !== 1 || typeof kdf.salt !== 'string')
    throw stateError(path, 'field "kdf" is malformed');
  for (const field of ['nonce', 'sealed'] as const) {
    if (typeof value[field] !== 'string') throw stateError(path, `field "${field}" is missing`);
  }
  if (!Number.isSafeInteger(value.generation)) throw stateError(path, 'field "generation" is not an integer');
  return value as unknown as StateEnvelope;
}

/**
 * Opens a sealed state with `key`. A wrong passphrase and a modified file look the same and get
 * the same generic `ERR_BROKER_STATE`.
 */
export function openState(path: string, envelope: StateEnvelope, key: Uint8Array): BrokerDoc {
  const sealed = Buffer.from(envelope.sealed, 'base64');
  const nonce = Buffer.from(envelope.nonce, 'base64');
  if (sealed.length < 16 || nonce.length !== 12)
    throw stateError(path, 'field "sealed" or "nonce" is malformed');
  let plain: Buffer;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce);
    decipher.setAAD(aad(envelope.kdf, envelope.generation));
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    plain = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - 16)), decipher.final()]);
  } catch (error) {
    throw stateError(path, 'wrong passphrase, or the file was modified', error);
  }
  try {
    const doc = parseDoc(JSON.parse(plain.toString('utf8')));
    if (typeof doc === 'string') throw stateError(path, `the decrypted state is malformed at ${doc}`);
    return doc;
  } finally {
    plain.fill(0);
  }
}
