/** A JSON object (not null, not an array), as parsed input is checked before its fields are read. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * `text` decoded as base64url, strictly: only its alphabet, no padding, no impossible length
 * (Node's decoder would drop a character of one). Undefined when it is not; the caller names what.
 */
export function strictBase64url(text: string): Buffer | undefined {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return undefined;
  return Buffer.from(text, 'base64url');
}
