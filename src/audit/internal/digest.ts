import { createHash } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';

/** Lowercase hex SHA-256 of the UTF-8 bytes of `text`. */
export function sha256Hex(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

/** SHA-256 of the canonical JSON of `obj` without its `hash` member (the entry hash rule). */
export function contentHash(obj: Readonly<Record<string, unknown>>): string {
  const { hash: _hash, ...rest } = obj;
  return sha256Hex(canonicalJson(rest));
}
