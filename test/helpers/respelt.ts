const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * `text` (base64url) with its last character's lowest bit flipped: for a byte string whose length
 * leaves one or two bytes in the last group (a 16-byte tag, a 256-byte signature), that bit is
 * unused, and Node's decoder reads the result as the same bytes.
 */
export function respelt(text: string): string {
  const last = BASE64URL.indexOf(text.at(-1) ?? 'A');
  return `${text.slice(0, -1)}${BASE64URL[last ^ 1]}`;
}
