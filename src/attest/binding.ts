import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { SealtrainError } from '../errors/index.js';

/** The longest nonce sealtrain accepts: it must fit the 64 bytes of SEV-SNP report data. */
export const MAX_NONCE_BYTES = 64;

/**
 * What binds a request into evidence (docs/spec/evidence-v1.md, "Binding"): with a runtime key,
 * SHA-256(nonce ‖ SPKI-DER(key)); without one, the nonce itself.
 */
export function runtimeBinding(nonce: Uint8Array, runtimeKey?: KeyObject): Buffer {
  if (nonce.length === 0 || nonce.length > MAX_NONCE_BYTES)
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `A nonce must be 1 to ${MAX_NONCE_BYTES} bytes, not ${nonce.length}.`,
      {
        details: { field: 'nonce' },
      },
    );
  if (runtimeKey === undefined) return Buffer.from(nonce);
  const publicKey = runtimeKey.type === 'private' ? createPublicKey(runtimeKey) : runtimeKey;
  return createHash('sha256')
    .update(nonce)
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest();
}

/** The 64-byte SEV-SNP (and `sim`) report data for a request: the binding, zero-padded. */
export function reportDataFor(nonce: Uint8Array, runtimeKey?: KeyObject): Buffer {
  const out = Buffer.alloc(64);
  runtimeBinding(nonce, runtimeKey).copy(out);
  return out;
}
