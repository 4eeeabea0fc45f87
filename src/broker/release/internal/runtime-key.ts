import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { type CheckList, CLAIM, type Claims, claimAt } from '../../../attest/index.js';

/** The kid Azure gives the vTPM's ephemeral encryption key in `x-ms-runtime.keys`. */
export const AZURE_RUNTIME_KID = 'TpmEphemeralEncryptionKey';

/** The smallest RSA runtime key the broker wraps to, in bits. */
export const MIN_RUNTIME_KEY_BITS = 2048;

type Jwk = Record<string, unknown>;

const isRecord = (v: unknown): v is Jwk => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The one RSA key to wrap to: Azure's `TpmEphemeralEncryptionKey` if present, else the only RSA key. */
function pick(keys: readonly Jwk[]): { jwk?: Jwk; why?: string } {
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

function usable(jwk: Jwk): { key?: KeyObject; why?: string } {
  const ops = jwk.key_ops;
  if (Array.isArray(ops) && !ops.includes('encrypt') && !ops.includes('wrapKey'))
    return { why: `its key_ops ${JSON.stringify(ops)} allow neither encrypt nor wrapKey` };
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

/**
 * Finds the workload's key in the token's `x-ms-runtime.keys` and records `release.runtime-key`.
 * It must be RSA (the released key is wrapped with RSA-OAEP), at least 2048 bits, and unambiguous:
 * Azure's `TpmEphemeralEncryptionKey` when present, otherwise the only RSA key (sealtrain's
 * envelopes carry exactly one, kid `runtime`).
 */
export function findRuntimeKey(
  claims: Claims,
  checks: CheckList,
): { key: KeyObject; kid: string } | undefined {
  const keys = claimAt(claims, `${CLAIM.runtime}.keys`);
  if (!Array.isArray(keys) || !keys.every(isRecord)) {
    checks.fail(
      'release.runtime-key',
      `The token has no ${CLAIM.runtime}.keys array, so there is no key to wrap to.`,
    );
    return undefined;
  }
  const { jwk, why } = pick(keys as readonly Jwk[]);
  if (jwk === undefined) {
    checks.fail('release.runtime-key', `The token's ${CLAIM.runtime}.keys ${why}.`);
    return undefined;
  }
  const kid = typeof jwk.kid === 'string' ? jwk.kid : '';
  const found = usable(jwk);
  if (found.key === undefined) {
    checks.fail('release.runtime-key', `The runtime key ${JSON.stringify(kid)} is not usable: ${found.why}.`);
    return undefined;
  }
  checks.pass('release.runtime-key', `The key is wrapped to the runtime key ${JSON.stringify(kid)}.`);
  return { key: found.key, kid };
}
