import type * as pkcs11js from 'pkcs11js';
import { type Handle, P, type TokenSession } from './pkcs11-token.js';

/** A data key as a session object: readable and extractable, so it can be wrapped and read back. */
const dekTemplate = (p: typeof pkcs11js) => [
  { type: p.CKA_CLASS, value: p.CKO_SECRET_KEY },
  { type: p.CKA_KEY_TYPE, value: p.CKK_GENERIC_SECRET },
  { type: p.CKA_TOKEN, value: false },
  { type: p.CKA_SENSITIVE, value: false },
  { type: p.CKA_EXTRACTABLE, value: true },
];

/** AES key wrap with padding (RFC 5649). */
const kwp = (p: typeof pkcs11js) => ({ mechanism: p.CKM_AES_KEY_WRAP_PAD });

/**
 * Generates a token-resident AES-256 KEK labelled `label`: private, sensitive, non-extractable,
 * usable to wrap and unwrap only. CKA_ID holds `created`, its ISO-8601 creation time.
 */
export function generateKek(t: TokenSession, label: string, created: string): Handle {
  const p = P();
  return t.lib.C_GenerateKey(t.session, { mechanism: p.CKM_AES_KEY_GEN }, [
    { type: p.CKA_CLASS, value: p.CKO_SECRET_KEY },
    { type: p.CKA_KEY_TYPE, value: p.CKK_AES },
    { type: p.CKA_VALUE_LEN, value: 32 },
    { type: p.CKA_TOKEN, value: true },
    { type: p.CKA_PRIVATE, value: true },
    { type: p.CKA_SENSITIVE, value: true },
    { type: p.CKA_EXTRACTABLE, value: false },
    { type: p.CKA_WRAP, value: true },
    { type: p.CKA_UNWRAP, value: true },
    { type: p.CKA_ENCRYPT, value: false },
    { type: p.CKA_DECRYPT, value: false },
    { type: p.CKA_LABEL, value: label },
    { type: p.CKA_ID, value: Buffer.from(created) },
  ]);
}

/** Sets CKA_WRAP and CKA_UNWRAP of `kek` to false: the token refuses to use it from then on. */
export function disableKek(t: TokenSession, kek: Handle): void {
  const p = P();
  t.lib.C_SetAttributeValue(t.session, kek, [
    { type: p.CKA_WRAP, value: false },
    { type: p.CKA_UNWRAP, value: false },
  ]);
}

/** Wraps `dek` with CKM_AES_KEY_WRAP_PAD under `kek`, through a session object destroyed after. */
export function wrapDek(t: TokenSession, kek: Handle, dek: Uint8Array): Uint8Array {
  const p = P();
  const value = Buffer.from(dek.buffer, dek.byteOffset, dek.length);
  const object = t.lib.C_CreateObject(t.session, [...dekTemplate(p), { type: p.CKA_VALUE, value }]);
  try {
    return Uint8Array.from(t.lib.C_WrapKey(t.session, kwp(p), kek, object, Buffer.alloc(dek.length + 16)));
  } finally {
    t.lib.C_DestroyObject(t.session, object);
  }
}

/**
 * Unwraps `wrapped` under `kek` into a session object, copies its value out, wipes the binding's
 * copy and destroys the object. Throws whatever the token says for bytes it does not accept.
 */
export function unwrapDek(t: TokenSession, kek: Handle, wrapped: Uint8Array): Uint8Array {
  const p = P();
  const object = t.lib.C_UnwrapKey(t.session, kwp(p), kek, Buffer.from(wrapped), dekTemplate(p));
  try {
    const [attr] = t.lib.C_GetAttributeValue(t.session, object, [{ type: p.CKA_VALUE }]);
    const value = attr?.value;
    if (!Buffer.isBuffer(value)) throw new Error('the token returned no key value');
    const dek = Uint8Array.from(value);
    value.fill(0);
    return dek;
  } finally {
    t.lib.C_DestroyObject(t.session, object);
  }
}
