/** A JSON object (not null, not an array), as parsed input is checked before its fields are read. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * `text` decoded as base64url, strictly: only its alphabet, no padding, and only the one spelling
 * of its bytes, the one that encoding them gives back. Node's decoder would quietly drop the
 * character of an impossible length and the unused low bits of a last character, so that several
 * texts read as the same bytes (a signature or tag could be respelt and still pass). Undefined when
 * it is not; the caller names what.
 */
export function strictBase64url(text: string): Buffer | undefined {
  // Node's encoder writes only the alphabet, no padding: any other character fails the comparison.
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}
