import { createHash, createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

const HEADER_INFO = Buffer.from('sealtrain/v1 header');
const PAYLOAD_INFO = Buffer.from('sealtrain/v1 payload');

/** HKDF-SHA-256 into a Buffer the caller wipes. */
function hkdf(dek: Uint8Array, salt: Uint8Array, info: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', dek, salt, info, 32));
}

/** The key that authenticates header slots. */
export function headerKey(dek: Uint8Array, salt: Uint8Array): Buffer {
  return hkdf(dek, salt, HEADER_INFO);
}

/** The key that encrypts the chunks, bound to the preamble and the core bytes. */
export function payloadKey(
  dek: Uint8Array,
  salt: Uint8Array,
  preamble: Uint8Array,
  core: Uint8Array,
): Buffer {
  const digest = createHash('sha256').update(preamble).update(core).digest();
  return hkdf(dek, salt, Buffer.concat([PAYLOAD_INFO, digest]));
}

/** HMAC-SHA-256 over preamble ‖ slot bytes before the tag. */
export function slotMac(key: Uint8Array, preamble: Uint8Array, slotBody: Uint8Array): Buffer {
  return createHmac('sha256', key).update(preamble).update(slotBody).digest();
}

/** Constant-time tag comparison. */
export function macEquals(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
