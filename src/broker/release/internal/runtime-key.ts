import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { TPM_ENCRYPTION_KID } from '../../../attest/azure-cvm/index.js';
import { type CheckList, CLAIM, type Claims, claimAt } from '../../../attest/index.js';
import { isRecord } from '../../../internal/json-shapes.js';
import { runtimeEcPublicKey } from '../ecdh-es-wrap.js';

/** The kid Azure gives the vTPM's ephemeral encryption key in `x-ms-runtime.keys`. */
export const AZURE_RUNTIME_KID = TPM_ENCRYPTION_KID;

/** The smallest RSA runtime key the broker wraps to, in bits. */
export const MIN_RUNTIME_KEY_BITS = 2048;

type Jwk = Record<string, unknown>;

/** The one RSA key to wrap to: Azure's `TpmEphemeralEncryptionKey` if present, else the only RSA key. */
function pickRsa(keys: readonly Jwk[]): { jwk?: Jwk; why?: string } {
  const rsa = keys.filter((k) => k.kty === 'RSA');
  const azure = rsa.filter((k) => k.kid === AZURE_RUNTIME_KID);
  if (azure.length === 1) return { jwk: azure[0] as Jwk };
  if (azure.length > 1) return { why: `names ${AZURE_RUNTIME_KID} ${azure.length} times` };
  if (rsa.length === 1) return { jwk: rsa[0] as Jwk };
  if (rsa.length === 0)
    return {
      why: `holds no RSA key (kty ${keys.map((k) => JSON.stringify(k.kty)).join(', ') || 'none'}); the key is wrapped with RSA-OAEP`,
    };
  return { why: `holds ${rsa.length} RSA keys and none is ${AZURE_RUNTIME_KID}, so the target is ambiguous` };
}

/** The one EC key to wrap to with ECDH-ES: the only one on a supported curve. */
function pickEc(keys: readonly Jwk[]): { jwk?: Jwk; why?: string } {
  const ec = keys.filter((k) => k.kty === 'EC');
  if (ec.length === 1) return { jwk: ec[0] as Jwk };
  if (ec.length === 0)
    return {
      why: `holds no EC key (kty ${keys.map((k) => JSON.stringify(k.kty)).join(', ') || 'none'}); ECDH_ES_A256GCM wraps for an EC P-256 or P-384 key (ask for an RSA wrapping, enc CKM_RSA_AES_KEY_WRAP, for an RSA key)`,
    };
  return { why: `holds ${ec.length} EC keys, so the target is ambiguous` };
}

/** Why `key_ops`, when present, rule out the wrapping (none of `wanted`), or nothing. */
function opsRefuse(jwk: Jwk, wanted: readonly string[]): string | undefined {
  const ops = jwk.key_ops;
  if (Array.isArray(ops) && !wanted.some((op) => ops.includes(op)))
    return `its key_ops ${JSON.stringify(ops)} allow none of ${wanted.join(', ')}`;
  return undefined;
}

function usableEc(jwk: Jwk): { key?: KeyObject; why?: string } {
  const refused = opsRefuse(jwk, ['deriveKey', 'deriveBits']);
  return refused ? { why: refused } : runtimeEcPublicKey(jwk);
}

function usableRsa(jwk: Jwk): { key?: KeyObject; why?: string } {
  const refused = opsRefuse(jwk, ['encrypt', 'wrapKey']);
  if (refused) return { why: refused };
  let key: KeyObject;
  try {
    key = createPublicKey({ key: { kty: 'RSA', n: jwk.n, e: jwk.e } as JsonWebKey, format: 'jwk' });
  } catch {
    return { why: 'its n and e are not an RSA public key' };
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RUNTIME_KEY_BITS) return { why: `it is RSA-${bits}, under ${MIN_RUNTIME_KEY_BITS} bits` };
  return { key };
}

/** The longest runtime key `kid` released to (Azure's is 25 characters, sealtrain's 7). */
const MAX_RUNTIME_KID_LENGTH = 256;

/**
 * Finds the workload's key in the token's `x-ms-runtime.keys` and records `release.runtime-key`.
 * For an RSA wrapping (`rsa`), it must be RSA of at least 2048 bits and unambiguous: Azure's
 * `TpmEphemeralEncryptionKey` when present, otherwise the only RSA key (sealtrain's envelopes carry
 * exactly one, kid `runtime`). For ECDH-ES (`ec`), the only EC key, on P-256 or P-384.
 */
export function findRuntimeKey(
  claims: Claims,
  checks: CheckList,
  kind: 'rsa' | 'ec' = 'rsa',
): { key: KeyObject; kid: string } | undefined {
  const keys = claimAt(claims, `${CLAIM.runtime}.keys`);
  if (!Array.isArray(keys) || !keys.every(isRecord)) {
    checks.fail(
      'release.runtime-key',
      `The token has no ${CLAIM.runtime}.keys array, so there is no key to wrap to.`,
    );
    return undefined;
  }
  const { jwk, why } = (kind === 'ec' ? pickEc : pickRsa)(keys as readonly Jwk[]);
  if (jwk === undefined) {
    checks.fail('release.runtime-key', `The token's ${CLAIM.runtime}.keys ${why}.`);
    return undefined;
  }
  const kid = typeof jwk.kid === 'string' ? jwk.kid : '';
  if (kid.length > MAX_RUNTIME_KID_LENGTH) {
    // It goes into the release's JWE header and the audit log: a long one is refused, not quoted.
    checks.fail(
      'release.runtime-key',
      `The runtime key's kid is ${kid.length} characters, over ${MAX_RUNTIME_KID_LENGTH}.`,
    );
    return undefined;
  }
  const found = (kind === 'ec' ? usableEc : usableRsa)(jwk);
  if (found.key === undefined) {
    checks.fail('release.runtime-key', `The runtime key ${JSON.stringify(kid)} is not usable: ${found.why}.`);
    return undefined;
  }
  checks.pass('release.runtime-key', `The key is wrapped to the runtime key ${JSON.stringify(kid)}.`);
  return { key: found.key, kid };
}
