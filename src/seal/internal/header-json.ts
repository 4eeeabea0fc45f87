import { SealtrainError } from '../../errors/index.js';
import type { WrappedKey } from '../../kms/key-provider.js';
import { checkChunkSize, MAX_RECIPIENTS } from './layout.js';

/** User metadata carried in the authenticated header. All optional. */
export interface SealMeta {
  readonly dataset_id?: string;
  readonly content_type?: string;
  readonly schema_sha256?: string;
}

/** The immutable part of the header, bound into the payload key. */
export interface Core {
  readonly chunk_size: number;
  readonly salt: string;
  readonly created: string;
  readonly meta: SealMeta;
}

/** The rewritable part of the header. */
export interface Envelope {
  readonly recipients: readonly WrappedKey[];
  readonly length: number | null;
}

type Json = Record<string, unknown>;

const B64U = /^[A-Za-z0-9_-]*$/;
const HEX64 = /^[0-9a-f]{64}$/;

function fail(name: string, field: string, problem: string): SealtrainError {
  return new SealtrainError(
    'ERR_SEAL_MALFORMED_HEADER',
    `Header of ${name} is malformed: ${field} ${problem}.`,
    {
      details: { path: name, field },
    },
  );
}

function parseObject(bytes: Uint8Array, name: string, what: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw fail(name, what, 'is not valid UTF-8 JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw fail(name, what, 'is not an object');
  return value as Json;
}

function onlyKeys(obj: Json, allowed: readonly string[], name: string, where: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) throw fail(name, `${where}.${key}`, 'is not a known field');
  }
}

function str(obj: Json, key: string, max: number, name: string, where: string): string {
  const v = obj[key];
  if (typeof v !== 'string' || v.length > max)
    throw fail(name, `${where}.${key}`, `must be a string of at most ${max} characters`);
  return v;
}

/** Validates user metadata; used both when sealing and when parsing. */
export function checkMeta(meta: Json, name: string): SealMeta {
  onlyKeys(meta, ['dataset_id', 'content_type', 'schema_sha256'], name, 'core.meta');
  const out: { dataset_id?: string; content_type?: string; schema_sha256?: string } = {};
  if (meta.dataset_id !== undefined) out.dataset_id = str(meta, 'dataset_id', 256, name, 'core.meta');
  if (meta.content_type !== undefined) out.content_type = str(meta, 'content_type', 128, name, 'core.meta');
  if (meta.schema_sha256 !== undefined) {
    const h = str(meta, 'schema_sha256', 64, name, 'core.meta');
    if (!HEX64.test(h)) throw fail(name, 'core.meta.schema_sha256', 'must be 64 lowercase hex digits');
    out.schema_sha256 = h;
  }
  return out;
}

/** Parses and validates core JSON bytes. */
export function parseCore(bytes: Uint8Array, name: string): Core {
  const obj = parseObject(bytes, name, 'core');
  onlyKeys(obj, ['chunk_size', 'salt', 'created', 'meta'], name, 'core');
  const chunkSize = obj.chunk_size;
  if (typeof chunkSize !== 'number') throw fail(name, 'core.chunk_size', 'must be a number');
  try {
    checkChunkSize(chunkSize, name);
  } catch {
    throw fail(name, 'core.chunk_size', 'is outside the v1 limits');
  }
  const salt = str(obj, 'salt', 43, name, 'core');
  if (salt.length !== 43 || !B64U.test(salt)) throw fail(name, 'core.salt', 'must be 32 bytes of base64url');
  const created = str(obj, 'created', 40, name, 'core');
  const meta = obj.meta;
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta))
    throw fail(name, 'core.meta', 'must be an object');
  return { chunk_size: chunkSize, salt, created, meta: checkMeta(meta as Json, name) };
}

function parseRecipient(value: unknown, index: number, name: string): WrappedKey {
  const where = `envelope.recipients[${index}]`;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw fail(name, where, 'is not an object');
  const r = value as Json;
  onlyKeys(r, ['uri', 'version', 'alg', 'wrapped'], name, where);
  const wrapped = str(r, 'wrapped', 2048, name, where);
  if (!B64U.test(wrapped)) throw fail(name, `${where}.wrapped`, 'must be base64url');
  return {
    uri: str(r, 'uri', 512, name, where),
    version: str(r, 'version', 128, name, where),
    alg: str(r, 'alg', 32, name, where),
    wrapped: Buffer.from(wrapped, 'base64url'),
  };
}

/** Parses and validates envelope JSON bytes. */
export function parseEnvelope(bytes: Uint8Array, name: string): Envelope {
  const obj = parseObject(bytes, name, 'envelope');
  onlyKeys(obj, ['recipients', 'length'], name, 'envelope');
  const list = obj.recipients;
  if (!Array.isArray(list) || list.length < 1 || list.length > MAX_RECIPIENTS) {
    throw fail(name, 'envelope.recipients', `must list 1 to ${MAX_RECIPIENTS} recipients`);
  }
  const length = obj.length;
  if (length !== null && (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0)) {
    throw fail(name, 'envelope.length', 'must be a non-negative integer or null');
  }
  return { recipients: list.map((r, i) => parseRecipient(r, i, name)), length };
}

/** Serialises the envelope as it is stored. */
export function encodeEnvelope(envelope: Envelope): Buffer {
  const recipients = envelope.recipients.map((r) => ({
    uri: r.uri,
    version: r.version,
    alg: r.alg,
    wrapped: Buffer.from(r.wrapped).toString('base64url'),
  }));
  return Buffer.from(JSON.stringify({ recipients, length: envelope.length }));
}

/** Serialises the core as it is stored. */
export function encodeCore(core: Core): Buffer {
  return Buffer.from(JSON.stringify(core));
}
