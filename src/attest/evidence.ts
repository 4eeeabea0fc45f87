import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { SealtrainError } from '../errors/index.js';
import { isRecord } from '../internal/json-shapes.js';
import type { EvidenceKind } from './claims.js';

/** The largest evidence input sealtrain reads (docs/spec/evidence-v1.md, "Limits"). */
export const MAX_EVIDENCE_BYTES = 1024 * 1024;

/** The size of an SEV-SNP attestation report. */
export const SNP_REPORT_BYTES = 1184;

/** Certificates that came with SEV-SNP evidence, as PEM or DER. */
export interface SnpCertificates {
  readonly vcek?: string | Uint8Array;
  readonly vlek?: string | Uint8Array;
  readonly ask?: string | Uint8Array;
  readonly asvk?: string | Uint8Array;
  readonly ark?: string | Uint8Array;
}

/** Simulated evidence: a payload signed by the local `sim` key. */
export interface SimEvidenceBody {
  readonly payload: string;
  readonly signature: string;
}

/** What binds evidence to a request: the verifier's nonce and the workload's public keys. */
export interface EvidenceBinding {
  readonly nonce?: Buffer;
  readonly runtimeKeys: readonly JsonWebKey[];
}

/** Parsed evidence of any kind sealtrain verifies. */
export type Evidence =
  | (EvidenceBinding & {
      readonly kind: 'sevsnp';
      readonly report: Buffer;
      readonly certificates: SnpCertificates;
    })
  | (EvidenceBinding & { readonly kind: 'azure-cvm'; readonly azure: Readonly<Record<string, unknown>> })
  | (EvidenceBinding & { readonly kind: 'sim'; readonly sim: SimEvidenceBody })
  | (EvidenceBinding & { readonly kind: 'maa'; readonly token: string });

/** The version-1 envelope as written to disk (docs/spec/evidence-v1.md). */
export interface EvidenceEnvelope {
  readonly 'sealtrain-evidence': 1;
  readonly kind: Exclude<EvidenceKind, 'maa'>;
  readonly createdAt: string;
  readonly nonce?: string;
  readonly runtime?: { readonly keys: readonly JsonWebKey[] };
  readonly sevsnp?: { readonly report: string; readonly certificates?: Record<string, string> };
  readonly 'azure-cvm'?: Readonly<Record<string, unknown>>;
  readonly sim?: SimEvidenceBody;
}

const ENVELOPE_FIELDS = new Set([
  'sealtrain-evidence',
  'kind',
  'createdAt',
  'nonce',
  'runtime',
  'sevsnp',
  'azure-cvm',
  'sim',
]);
const CERT_NAMES = new Set(['vcek', 'vlek', 'ask', 'asvk', 'ark']);

function malformed(source: string, field: string, why: string): SealtrainError {
  return new SealtrainError('ERR_ATTEST_MALFORMED', `Evidence ${source}: ${field} ${why}.`, {
    details: { source, field },
  });
}

function onlyFields(
  value: Record<string, unknown>,
  allowed: readonly string[],
  source: string,
  at: string,
): void {
  for (const key of Object.keys(value))
    if (!allowed.includes(key)) throw malformed(source, `${at}.${key}`, 'is not a field of the envelope');
}

/** Decodes strict base64 or base64url, refusing anything else. */
export function decodeBase64(text: unknown, source: string, field: string): Buffer {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(text) || text.length % 4 === 1)
    throw malformed(source, field, 'is not base64');
  return Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

function runtimeKeysOf(value: unknown, source: string): JsonWebKey[] {
  if (value === undefined) return [];
  if (!isRecord(value) || !Array.isArray(value.keys) || value.keys.length !== 1)
    throw malformed(
      source,
      'runtime.keys',
      'must be an array of exactly one public JWK (the key the evidence binds)',
    );
  onlyFields(value, ['keys'], source, 'runtime');
  return value.keys.map((key, i) => {
    if (!isRecord(key) || typeof key.kty !== 'string')
      throw malformed(source, `runtime.keys[${i}]`, 'is not a JWK');
    if ('d' in key || 'p' in key || 'k' in key)
      throw malformed(source, `runtime.keys[${i}]`, 'holds private key material; send the public key only');
    try {
      createPublicKey({ key: key as JsonWebKey, format: 'jwk' });
    } catch (cause) {
      throw new SealtrainError(
        'ERR_ATTEST_MALFORMED',
        `Evidence ${source}: runtime.keys[${i}] is not a usable public key.`,
        {
          cause,
          details: { source, field: `runtime.keys[${i}]` },
        },
      );
    }
    return key as JsonWebKey;
  });
}

function certificatesOf(value: unknown, source: string): SnpCertificates {
  if (value === undefined) return {};
  if (!isRecord(value)) throw malformed(source, 'sevsnp.certificates', 'must be an object of PEM strings');
  const out: Record<string, string> = {};
  for (const [name, pem] of Object.entries(value)) {
    if (!CERT_NAMES.has(name))
      throw malformed(source, `sevsnp.certificates.${name}`, 'is not vcek, vlek, ask, asvk or ark');
    if (typeof pem !== 'string' || !pem.includes('-----BEGIN CERTIFICATE-----'))
      throw malformed(source, `sevsnp.certificates.${name}`, 'is not a PEM certificate');
    out[name] = pem;
  }
  return out;
}

/** Parses a version-1 envelope object (already JSON-decoded). */
export function parseEnvelope(value: unknown, source: string): Evidence {
  if (!isRecord(value)) throw malformed(source, 'the envelope', 'is not a JSON object');
  if (value['sealtrain-evidence'] !== 1)
    throw new SealtrainError(
      'ERR_ATTEST_UNSUPPORTED',
      `Evidence ${source}: envelope version ${JSON.stringify(value['sealtrain-evidence'])} is not supported (this sealtrain reads version 1).`,
      { details: { source, field: 'sealtrain-evidence' } },
    );
  for (const key of Object.keys(value))
    if (!ENVELOPE_FIELDS.has(key)) throw malformed(source, key, 'is not a field of the envelope');
  if (typeof value.createdAt !== 'string' || Number.isNaN(Date.parse(value.createdAt)))
    throw malformed(source, 'createdAt', 'must be an ISO 8601 time');
  const nonce = value.nonce === undefined ? undefined : decodeBase64(value.nonce, source, 'nonce');
  if (nonce !== undefined && (nonce.length === 0 || nonce.length > 64))
    throw malformed(source, 'nonce', 'must be 1 to 64 bytes');
  const binding = { ...(nonce ? { nonce } : {}), runtimeKeys: runtimeKeysOf(value.runtime, source) };
  const kind = value.kind;
  if (kind !== 'sevsnp' && kind !== 'azure-cvm' && kind !== 'sim')
    throw new SealtrainError(
      'ERR_ATTEST_UNSUPPORTED',
      `Evidence ${source}: kind ${JSON.stringify(kind)} is not supported (sevsnp, azure-cvm or sim).`,
      { details: { source, field: 'kind' } },
    );
  const body = value[kind];
  for (const other of ['sevsnp', 'azure-cvm', 'sim'])
    if (other !== kind && value[other] !== undefined)
      throw malformed(source, other, `is present but kind is ${JSON.stringify(kind)}`);
  if (kind === 'sevsnp') {
    if (!isRecord(body)) throw malformed(source, 'sevsnp', 'is missing');
    onlyFields(body, ['report', 'certificates'], source, 'sevsnp');
    const report = decodeBase64(body.report, source, 'sevsnp.report');
    if (report.length !== SNP_REPORT_BYTES)
      throw malformed(source, 'sevsnp.report', `is ${report.length} bytes, not ${SNP_REPORT_BYTES}`);
    return { kind, report, certificates: certificatesOf(body.certificates, source), ...binding };
  }
  if (kind === 'azure-cvm') {
    if (!isRecord(body)) throw malformed(source, 'azure-cvm', 'is missing');
    return { kind, azure: body, ...binding };
  }
  if (!isRecord(body) || typeof body.payload !== 'string' || typeof body.signature !== 'string')
    throw malformed(source, 'sim', 'must hold payload and signature strings');
  onlyFields(body, ['payload', 'signature'], source, 'sim');
  return { kind, sim: { payload: body.payload, signature: body.signature }, ...binding };
}

/**
 * Reads evidence in any accepted form (docs/spec/evidence-v1.md): an envelope, a raw or hex SEV-SNP
 * report, Azure confidential-VM evidence JSON, or an MAA token. `source` names the input in errors.
 */
export function parseEvidence(bytes: Uint8Array, source: string): Evidence {
  if (bytes.length > MAX_EVIDENCE_BYTES)
    throw malformed(
      source,
      'the input',
      `is ${bytes.length} bytes, over the ${MAX_EVIDENCE_BYTES}-byte limit`,
    );
  const none = { runtimeKeys: [] };
  const version = bytes.length === SNP_REPORT_BYTES ? Buffer.from(bytes).readUInt32LE(0) : 0;
  if (version >= 2 && version <= 5)
    return { kind: 'sevsnp', report: Buffer.from(bytes), certificates: {}, ...none };
  const text = Buffer.from(bytes).toString('utf8').trim();
  if (/^[0-9a-fA-F\s]+$/.test(text)) {
    const hex = text.replace(/\s+/g, '');
    if (hex.length !== SNP_REPORT_BYTES * 2)
      throw malformed(source, 'the hex report', `is ${hex.length / 2} bytes, not ${SNP_REPORT_BYTES}`);
    return { kind: 'sevsnp', report: Buffer.from(hex, 'hex'), certificates: {}, ...none };
  }
  if (/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(text))
    return { kind: 'maa', token: text, ...none };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw malformed(
      source,
      'the input',
      'is neither an evidence envelope, a 1184-byte SNP report, hex, JSON nor an MAA token',
    );
  }
  if (isRecord(json) && 'sealtrain-evidence' in json) return parseEnvelope(json, source);
  if (isRecord(json) && 'hcl_report' in json && 'tpm_quote' in json)
    return { kind: 'azure-cvm', azure: json, ...none };
  throw malformed(source, 'the JSON', 'is neither an evidence envelope nor Azure confidential-VM evidence');
}

/** The first runtime key as a KeyObject, or undefined. */
export function runtimeKeyOf(evidence: Evidence): KeyObject | undefined {
  const jwk = evidence.runtimeKeys[0];
  return jwk === undefined ? undefined : createPublicKey({ key: jwk, format: 'jwk' });
}
