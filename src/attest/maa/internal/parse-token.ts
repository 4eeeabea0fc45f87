import { SealtrainError } from '../../../errors/index.js';
import { isRecord, strictBase64url } from '../../../internal/json-shapes.js';

/** The largest MAA token sealtrain reads, in bytes; real tokens are a few KiB. */
export const MAX_MAA_TOKEN_BYTES = 64 * 1024;

/** A JWS compact token split into its decoded parts; nothing here is verified yet. */
export interface ParsedToken {
  /** The token as verified: trimmed of surrounding whitespace. */
  readonly compact: string;
  readonly header: Readonly<Record<string, unknown>>;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly signature: Buffer;
}

function malformed(part: string, reason: string): SealtrainError {
  return new SealtrainError('ERR_ATTEST_MALFORMED', `MAA token ${part} ${reason}.`, {
    details: { field: part },
  });
}

/** Decodes one base64url part strictly (`strictBase64url`: no padding, no other alphabet, one spelling). */
function decodePart(text: string, part: string): Buffer {
  const bytes = strictBase64url(text);
  if (bytes === undefined)
    throw malformed(part, 'is not base64url (unpadded, in the one spelling of its bytes)');
  return bytes;
}

/** Parses a part that must hold a JSON object. */
function jsonObjectPart(text: string, part: string): Record<string, unknown> {
  const bytes = decodePart(text, part);
  if (bytes.length === 0) throw malformed(part, 'is empty');
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw malformed(part, 'is not UTF-8 JSON');
  }
  if (!isRecord(value)) throw malformed(part, 'is not a JSON object');
  return value;
}

/**
 * Splits and decodes a JWS compact token. Throws `ERR_ATTEST_MALFORMED` naming the part (token,
 * header, payload or signature) for anything that is not three base64url parts with JSON objects
 * in the first two, or for a token over {@link MAX_MAA_TOKEN_BYTES}. An empty signature part is
 * accepted here (it is what `alg: none` looks like) and refused by verification.
 */
export function parseToken(token: unknown): ParsedToken {
  if (typeof token !== 'string') throw malformed('token', 'must be a string');
  const text = token.trim();
  if (Buffer.byteLength(text, 'utf8') > MAX_MAA_TOKEN_BYTES)
    throw malformed('token', `is larger than ${MAX_MAA_TOKEN_BYTES} bytes`);
  const parts = text.split('.');
  if (parts.length !== 3)
    throw malformed('token', `has ${parts.length} dot-separated parts, not 3 (header.payload.signature)`);
  const [header = '', payload = '', signature = ''] = parts;
  return {
    compact: text,
    header: jsonObjectPart(header, 'header'),
    payload: jsonObjectPart(payload, 'payload'),
    signature: decodePart(signature, 'signature'),
  };
}
