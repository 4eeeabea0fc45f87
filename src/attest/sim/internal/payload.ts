import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { SealtrainError } from '../../../errors/index.js';

/** The signed body of simulated evidence (version 1). */
export interface SimPayload {
  readonly 'sealtrain-sim': 1;
  readonly insecure: string;
  /** 64 bytes, lowercase hex. */
  readonly reportData: string;
  /** 48 bytes (the size of an SEV-SNP launch measurement), lowercase hex. */
  readonly measurement: string;
  readonly debug: boolean;
  readonly vmpl: number;
  /** ISO 8601. */
  readonly createdAt: string;
  /** SHA-256 of the signing key's SPKI DER, lowercase hex. */
  readonly keyId: string;
}

/** The largest payload or signature text sealtrain decodes, in characters. */
export const MAX_SIM_TEXT = 16 * 1024;

const FIELDS = [
  'sealtrain-sim',
  'insecure',
  'reportData',
  'measurement',
  'debug',
  'vmpl',
  'createdAt',
  'keyId',
];
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** An `ERR_ATTEST_MALFORMED` naming the field of simulated evidence. */
export function malformedSim(field: string, reason: string): SealtrainError {
  return new SealtrainError('ERR_ATTEST_MALFORMED', `Simulated evidence ${field} ${reason}.`, {
    details: { field },
  });
}

/** Lowercase hex of exactly `bytes` bytes, or `undefined`. */
export function hexOf(value: unknown, bytes: number): string | undefined {
  if (typeof value !== 'string' || value.length !== bytes * 2 || !/^[0-9a-fA-F]*$/.test(value))
    return undefined;
  return value.toLowerCase();
}

/** Decodes strict standard base64 (padded), naming `field` when it is not. */
export function decodeBase64(value: unknown, field: string): Buffer {
  if (typeof value !== 'string') throw malformedSim(field, 'is not a string');
  if (value.length > MAX_SIM_TEXT) throw malformedSim(field, `is longer than ${MAX_SIM_TEXT} characters`);
  if (!BASE64.test(value)) throw malformedSim(field, 'is not base64');
  return Buffer.from(value, 'base64');
}

/** The id of a key: SHA-256 of its public key's SPKI DER, lowercase hex. */
export function simKeyId(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

function need(ok: boolean, field: string, reason: string): void {
  if (!ok) throw malformedSim(`payload.${field}`, reason);
}

/** Parses payload bytes into a {@link SimPayload}; unknown or mistyped fields are refused by name. */
export function parseSimPayload(bytes: Buffer): SimPayload {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw malformedSim('payload', 'is not UTF-8 JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw malformedSim('payload', 'is not a JSON object');
  const p = value as Record<string, unknown>;
  const unknown = Object.keys(p).find((k) => !FIELDS.includes(k));
  if (unknown !== undefined) throw malformedSim(`payload.${unknown}`, 'is not a known field');
  if (p['sealtrain-sim'] !== 1)
    throw new SealtrainError(
      'ERR_ATTEST_UNSUPPORTED',
      `Simulated evidence version ${JSON.stringify(p['sealtrain-sim'])} is not supported (1).`,
      { details: { field: 'payload.sealtrain-sim' } },
    );
  need(typeof p.insecure === 'string', 'insecure', 'is not a string');
  need(hexOf(p.reportData, 64) !== undefined, 'reportData', 'is not 64 bytes of hex');
  need(hexOf(p.measurement, 48) !== undefined, 'measurement', 'is not 48 bytes of hex');
  need(typeof p.debug === 'boolean', 'debug', 'is not a boolean');
  need(
    Number.isInteger(p.vmpl) && (p.vmpl as number) >= 0 && (p.vmpl as number) <= 3,
    'vmpl',
    'is not 0 to 3',
  );
  need(
    typeof p.createdAt === 'string' && !Number.isNaN(Date.parse(p.createdAt)),
    'createdAt',
    'is not a time',
  );
  need(hexOf(p.keyId, 32) !== undefined, 'keyId', 'is not 32 bytes of hex');
  return p as unknown as SimPayload;
}
