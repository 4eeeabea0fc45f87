import { createPublicKey, type JsonWebKey, type KeyObject, X509Certificate } from 'node:crypto';
import { SealtrainError } from '../../errors/index.js';
import { isRecord } from '../../internal/json-shapes.js';
import { decodeBase64 } from '../evidence.js';
import { type HclReport, parseHclReport } from './hcl-report.js';
import { malformed } from './internal/reader.js';
import { parseTpmSignature, parseTpmsAttest, type TpmSignature, type TpmsAttest } from './tpm-attest.js';

/** The `kid` of the vTPM attestation key in the HCL variable data. */
export const HCL_AK_KID = 'HCLAkPub';
/** The evidence versions read: 1 and 2 share one shape (2 fills `user-data` with report data). */
export const AZURE_CVM_EVIDENCE_VERSIONS = [1, 2] as const;

const FIELDS = new Set(['version', 'tpm_quote', 'hcl_report', 'vcek', 'ak_pub']);
const QUOTE_FIELDS = new Set(['signature', 'message', 'pcrs']);
const MAX_MESSAGE_BYTES = 1024;
const MAX_PCRS = 128;

/** The vTPM quote: the signed `TPMS_ATTEST`, its signature, and the PCR values it digests. */
export interface AzureCvmQuote {
  /** The marshalled `TPMS_ATTEST`: the bytes the signature covers. */
  readonly message: Buffer;
  readonly attest: TpmsAttest;
  readonly signature: TpmSignature;
  /** The selected PCR values, in selection order (banks in order, PCRs ascending). */
  readonly pcrs: readonly Buffer[];
}

/** Azure confidential-VM (vTPM) evidence, parsed but not yet verified. */
export interface AzureCvmEvidence {
  readonly version: 1 | 2;
  /** The HCL report as read from the vTPM, NV padding included. */
  readonly hclReportBytes: Buffer;
  readonly hcl: HclReport;
  readonly quote: AzureCvmQuote;
  /** The VCEK certificate (DER) when the evidence carries one. */
  readonly vcek?: Buffer;
  /** `HCLAkPub` from the HCL variable data: the attestation key the hardware report vouches for. */
  readonly hclAkPub: KeyObject;
  /** The key the TPM holds at the AK handle, when the collector read it (`ak_pub`, SPKI DER). */
  readonly akPub?: KeyObject;
}

function hex(value: unknown, field: string, max: number): Buffer {
  if (typeof value !== 'string' || value.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(value))
    throw malformed(field, 'is not hexadecimal');
  if (value.length === 0) throw malformed(field, 'is empty');
  if (value.length / 2 > max)
    throw malformed(field, `is ${value.length / 2} bytes, over the ${max}-byte limit`);
  return Buffer.from(value, 'hex');
}

function base64(value: unknown, field: string): Buffer {
  const bytes = decodeBase64(value, 'azure-cvm', field);
  if (bytes.length === 0) throw malformed(field, 'is empty');
  return bytes;
}

function rsaKey(jwk: unknown, field: string): KeyObject {
  if (!isRecord(jwk) || jwk.kty !== 'RSA' || 'd' in jwk) throw malformed(field, 'is not a public RSA JWK');
  try {
    return createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch (cause) {
    throw malformed(field, 'is not a usable RSA public key', cause);
  }
}

function hclAkPubOf(hcl: HclReport): KeyObject {
  const keys = hcl.runtime.keys;
  if (!Array.isArray(keys)) throw malformed('hcl_report.variable_data.keys', 'is not an array of JWKs');
  const index = keys.findIndex((k) => isRecord(k) && k.kid === HCL_AK_KID);
  if (index < 0) throw malformed('hcl_report.variable_data.keys', `has no ${HCL_AK_KID} key`);
  return rsaKey(keys[index], `hcl_report.variable_data.keys[${index}]`);
}

function vcekOf(value: unknown): Buffer {
  const der =
    typeof value === 'string' && value.startsWith('-----BEGIN')
      ? Buffer.from(value.replace(/-----[^-]+-----|\s/g, ''), 'base64')
      : base64(value, 'vcek');
  try {
    return Buffer.from(new X509Certificate(der).raw);
  } catch (cause) {
    throw malformed('vcek', 'is not an X.509 certificate', cause);
  }
}

function akPubOf(value: unknown): KeyObject {
  try {
    return createPublicKey({ key: base64(value, 'ak_pub'), format: 'der', type: 'spki' });
  } catch (cause) {
    if (cause instanceof SealtrainError) throw cause;
    throw malformed('ak_pub', 'is not an SPKI public key', cause);
  }
}

function quoteOf(value: unknown): AzureCvmQuote {
  if (!isRecord(value)) throw malformed('tpm_quote', 'is missing or not an object');
  for (const key of Object.keys(value))
    if (!QUOTE_FIELDS.has(key)) throw malformed(`tpm_quote.${key}`, 'is not a field of the quote');
  const message = hex(value.message, 'tpm_quote.message', MAX_MESSAGE_BYTES);
  const signatureBytes = hex(value.signature, 'tpm_quote.signature', 1024);
  if (!Array.isArray(value.pcrs)) throw malformed('tpm_quote.pcrs', 'is not an array of hex PCR values');
  if (value.pcrs.length > MAX_PCRS) throw malformed('tpm_quote.pcrs', `has over ${MAX_PCRS} values`);
  const pcrs = value.pcrs.map((p, i) => hex(p, `tpm_quote.pcrs[${i}]`, 64));
  return { message, attest: parseTpmsAttest(message), signature: parseTpmSignature(signatureBytes), pcrs };
}

/** Accepts the evidence as an object, JSON text or JSON bytes. */
function asObject(input: unknown): Record<string, unknown> {
  let value = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    try {
      value = JSON.parse(Buffer.from(input as string | Uint8Array).toString('utf8'));
    } catch (cause) {
      throw malformed('the evidence', 'is not JSON', cause);
    }
  }
  if (!isRecord(value)) throw malformed('the evidence', 'is not a JSON object');
  return value;
}

/**
 * Parses Azure confidential-VM evidence in the JSON shape of trustee's `az-snp-vtpm` evidence v1
 * (and v2, the same shape): `version`, `tpm_quote` (`message`: hex `TPMS_ATTEST`, `signature`: hex
 * RSA signature or `TPMT_SIGNATURE`, `pcrs`: hex PCR values), `hcl_report` (base64url), `vcek`
 * (base64url DER, optional) and sealtrain's optional `ak_pub` (base64url SPKI DER of the TPM's AK).
 * Wrong shapes, bad encodings, unknown fields and truncated structures are `ERR_ATTEST_MALFORMED`
 * naming the field; another version or a TDX report is `ERR_ATTEST_UNSUPPORTED`. Nothing is
 * verified here: see `verifyAzureCvmEvidence`.
 */
export function parseAzureCvmEvidence(input: unknown): AzureCvmEvidence {
  const value = asObject(input);
  for (const key of Object.keys(value))
    if (!FIELDS.has(key)) throw malformed(key, 'is not a field of Azure CVM evidence');
  const version = value.version;
  if (version !== 1 && version !== 2)
    throw new SealtrainError(
      'ERR_ATTEST_UNSUPPORTED',
      `Azure CVM evidence: version ${JSON.stringify(version)} is not supported (1 or 2).`,
      { details: { field: 'version' } },
    );
  const quote = quoteOf(value.tpm_quote);
  const hclReportBytes = base64(value.hcl_report, 'hcl_report');
  const hcl = parseHclReport(hclReportBytes);
  return {
    version,
    hclReportBytes,
    hcl,
    quote,
    hclAkPub: hclAkPubOf(hcl),
    ...(value.vcek === undefined ? {} : { vcek: vcekOf(value.vcek) }),
    ...(value.ak_pub === undefined ? {} : { akPub: akPubOf(value.ak_pub) }),
  };
}
