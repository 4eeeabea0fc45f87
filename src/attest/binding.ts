import { createHash, createPublicKey, type KeyObject } from 'node:crypto';

/**
 * The 32-byte binding of a request into evidence: SHA-256(nonce ‖ SPKI-DER(runtime key)), or
 * SHA-256(nonce) with no key (docs/spec/evidence-v1.md, "Binding").
 */
export function runtimeBinding(nonce: Uint8Array, runtimeKey?: KeyObject): Buffer {
  const hash = createHash('sha256').update(nonce);
  if (runtimeKey !== undefined) {
    const publicKey = runtimeKey.type === 'private' ? createPublicKey(runtimeKey) : runtimeKey;
    hash.update(publicKey.export({ type: 'spki', format: 'der' }));
  }
  return hash.digest();
}

/** The 64-byte SEV-SNP (and `sim`) report data for a request: the binding, then 32 zero bytes. */
export function reportDataFor(nonce: Uint8Array, runtimeKey?: KeyObject): Buffer {
  return Buffer.concat([runtimeBinding(nonce, runtimeKey), Buffer.alloc(32)]);
}
