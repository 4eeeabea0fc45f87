import { createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { SealtrainError } from '../errors/index.js';
import { canonicalJson } from './canonical-json.js';
import type { ChainState } from './chain.js';
import { sha256Hex } from './internal/digest.js';
import { isEntryTime } from './internal/shape.js';

/** One line of `heads.jsonl`: an Ed25519 signature over the newest entry's hash. */
export interface SignedHead {
  /** Format version, always 1. */
  readonly v: 1;
  /** The `seq` of the newest entry covered. */
  readonly seq: number;
  /** That entry's hash; it commits to every entry before it. */
  readonly hash: string;
  /** UTC time of signing. */
  readonly time: string;
  /** Entries covered: always `seq + 1`. */
  readonly count: number;
  /** Base64 Ed25519 signature over the canonical JSON of the head without `sig`. */
  readonly sig: string;
  /** Hex SHA-256 of the signing public key's DER SubjectPublicKeyInfo. */
  readonly key_id: string;
}

/** Options for {@link signHead}. */
export interface SignHeadOptions {
  /** The time source; default `() => new Date()`. */
  readonly clock?: () => Date;
}

/** The `key_id` of a key pair: hex SHA-256 of the DER SubjectPublicKeyInfo of its public key. */
export function keyIdOf(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return sha256Hex(publicKey.export({ type: 'spki', format: 'der' }));
}

/**
 * Signs the head of a non-empty chain with an Ed25519 private key.
 *
 * @throws {SealtrainError} `ERR_AUDIT_SIGNING_KEY` when the key is not an Ed25519 private key;
 *   `ERR_INTERNAL` for an empty chain or an unusable clock.
 */
export function signHead(
  state: ChainState,
  privateKey: KeyObject,
  options: SignHeadOptions = {},
): SignedHead {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new SealtrainError(
      'ERR_AUDIT_SIGNING_KEY',
      'The audit signing key must be an Ed25519 private key.',
    );
  }
  if (state.next < 1) throw new SealtrainError('ERR_INTERNAL', 'Cannot sign the head of an empty audit log.');
  const time = (options.clock ?? (() => new Date()))().toISOString();
  if (!isEntryTime(time))
    throw new SealtrainError('ERR_INTERNAL', `The audit clock gave an unusable time ${time}.`);
  const body = {
    v: 1 as const,
    seq: state.next - 1,
    hash: state.head,
    time,
    count: state.next,
    key_id: keyIdOf(privateKey),
  };
  const sig = sign(null, Buffer.from(canonicalJson(body)), privateKey).toString('base64');
  return { ...body, sig };
}

/** Serialises `head` as the writer does: members in spec order, no whitespace. */
export function headLine(head: SignedHead): string {
  const { v, seq, hash, time, count, sig, key_id } = head;
  return JSON.stringify({ v, seq, hash, time, count, sig, key_id });
}

/** True when `head.sig` is a valid Ed25519 signature by `publicKey` over the rest of `head`. */
export function headSignatureValid(head: SignedHead, publicKey: KeyObject): boolean {
  const { sig, ...body } = head;
  try {
    return verify(null, Buffer.from(canonicalJson(body)), publicKey, Buffer.from(sig, 'base64'));
  } catch {
    return false;
  }
}
