import { createPrivateKey, KeyObject, randomBytes } from 'node:crypto';
import { CheckList, CLAIM, type Claims, claimAt } from '../../attest/index.js';
import { SealtrainError } from '../../errors/index.js';
import { evaluatePolicy, failedConditions, type ReleasePolicy, simOnlyPolicy } from '../../policy/index.js';
import { ecdhEsWrap } from './ecdh-es-wrap.js';
import { RELEASE_API_VERSION, type ReleaseSigner, releasePayload, signRelease } from './internal/payload.js';
import { findRuntimeKey } from './internal/runtime-key.js';
import { type ReleaseTrust, verifyTarget } from './internal/verify-target.js';
import {
  DEFAULT_RELEASE_ENCRYPTION,
  isReleaseEncryption,
  isRsaReleaseEncryption,
  MAX_WRAPPED_KEY_BYTES,
  type ReleaseEncryption,
} from './release-encryption.js';
import { rsaAesKeyWrap } from './rsa-aes-key-wrap.js';

/** The key to release: its id, type and secret material. */
export interface ReleasableKey {
  /** The versioned key id written to `response.key.key.kid`. */
  readonly kid: string;
  readonly kty: 'RSA' | 'oct';
  /** RSA: a private KeyObject or PKCS #8 DER; oct: the raw bytes or a secret KeyObject. Not wiped here. */
  readonly material: KeyObject | Uint8Array;
  /** `key_ops` in the answer; default every operation the type allows. */
  readonly keyOps?: readonly string[];
}

/** A release request, as the broker's route hands it over after authorisation. */
export interface ReleaseKeyInput {
  readonly key: ReleasableKey;
  /** The key's release policy (parsed with `parseReleasePolicy`). */
  readonly policy: ReleasePolicy;
  /** The attestation token (`target` in Key Vault's request body). */
  readonly target: string;
  /** Trusted token issuers and their keys; the broker's own issuer is one of them. */
  readonly trusted: ReleaseTrust;
  /** Whether the broker was started with `--allow-simulated`. */
  readonly allowSimulated: boolean;
  /** Signs the answer. */
  readonly signer: ReleaseSigner;
  /** The wrapping (`enc` in the request); default {@link DEFAULT_RELEASE_ENCRYPTION}. */
  readonly enc?: ReleaseEncryption;
  /** The client's `nonce`, echoed in `request.nonce`. */
  readonly nonce?: string;
  /** `request.kid` (Key Vault: the key URL as requested, often unversioned); default `key.kid`. */
  readonly requestKid?: string;
  /** `request.api-version`; default {@link RELEASE_API_VERSION}. */
  readonly apiVersion?: string;
  /** Extra members of `response.key` (`attributes`, `tags`, `release_policy`). */
  readonly keyBundle?: Readonly<Record<string, unknown>>;
  /** The clock for the token's validity; default now. */
  readonly now?: Date;
  /** Randomness for the transfer key; default `crypto.randomBytes`. */
  readonly random?: (size: number) => Uint8Array;
}

/** A granted release: `value` is the body Key Vault answers with; `decision` is for the audit log. */
export interface ReleaseKeyResult {
  /** The JWS signed by the broker (Key Vault's `KeyReleaseResult.value`). */
  readonly value: string;
  readonly decision: {
    readonly issuer: string;
    readonly attestationType: string;
    readonly matchedRule: number;
    readonly runtimeKid: string;
    readonly enc: ReleaseEncryption;
  };
}

const DEFAULT_OPS = {
  RSA: ['encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey'],
  oct: ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'],
};

function usage(field: string, reason: string): SealtrainError {
  return new SealtrainError('ERR_USAGE_INVALID', `releaseKey: ${field} ${reason}.`, { details: { field } });
}

function checkInput(input: ReleaseKeyInput): ReleaseEncryption {
  const { key, signer } = input;
  if (typeof key?.kid !== 'string' || key.kid === '') throw usage('key.kid', 'is not a non-empty string');
  if (key.kty !== 'RSA' && key.kty !== 'oct') throw usage('key.kty', 'is not "RSA" or "oct"');
  if (typeof input.target !== 'string') throw usage('target', 'is not a string');
  if (typeof input.allowSimulated !== 'boolean') throw usage('allowSimulated', 'is not a boolean');
  if (!Array.isArray(input.trusted?.issuers)) throw usage('trusted.issuers', 'is not an array');
  const sk = signer?.privateKey;
  if (
    sk?.type !== 'private' ||
    sk.asymmetricKeyType !== 'rsa' ||
    (sk.asymmetricKeyDetails?.modulusLength ?? 0) < 2048
  )
    throw usage('signer.privateKey', 'is not a private RSA key of 2048 bits or more');
  if (typeof signer.kid !== 'string' || signer.kid === '')
    throw usage('signer.kid', 'is not a non-empty string');
  const enc = input.enc ?? DEFAULT_RELEASE_ENCRYPTION;
  if (!isReleaseEncryption(enc)) throw usage('enc', `is ${JSON.stringify(enc)}, not a supported key wrap`);
  return enc;
}

/** The bytes to wrap (a copy the caller wipes) and, for RSA, the key for `n`/`e`. */
function materialOf(key: ReleasableKey): { bytes: Buffer; rsa?: KeyObject } {
  const m = key.material;
  const isKeyObject = m instanceof KeyObject;
  try {
    if (key.kty === 'RSA') {
      const rsa = isKeyObject
        ? (m as KeyObject)
        : createPrivateKey({ key: Buffer.from(m as Uint8Array), format: 'der', type: 'pkcs8' });
      if (rsa.type !== 'private' || rsa.asymmetricKeyType !== 'rsa') throw new Error('not RSA');
      return { bytes: rsa.export({ format: 'der', type: 'pkcs8' }), rsa };
    }
    const bytes = isKeyObject ? (m as KeyObject).export() : Buffer.from(m as Uint8Array);
    if (bytes.length === 0 || bytes.length > MAX_WRAPPED_KEY_BYTES) throw new Error('bad length');
    return { bytes };
  } catch {
    throw usage('key.material', `is not ${key.kty === 'RSA' ? 'an RSA private key' : 'oct key bytes'}`);
  }
}

const attestationTypeOf = (claims: Claims): string => {
  const top = claimAt(claims, CLAIM.attestationType);
  const tee = claimAt(claims, `${CLAIM.isolationTee}.${CLAIM.attestationType}`);
  if (top === 'sim' || tee === 'sim') return 'sim';
  return typeof top === 'string' ? top : 'unknown';
};

/** Records `policy.authority` / `policy.condition` failures, or one `policy` pass; returns the matched rule. */
function checkPolicy(policy: ReleasePolicy, claims: Claims, checks: CheckList): number {
  const iss = claims.iss;
  const decision = evaluatePolicy(policy, claims, typeof iss === 'string' ? { authority: iss } : {});
  if (decision.allowed) {
    checks.pass('policy', `Rule anyOf[${decision.matchedRule}] of the release policy holds.`);
    return decision.matchedRule ?? 0;
  }
  const failed = failedConditions(decision);
  for (const node of failed) {
    if (node.kind === 'claim') checks.fail('policy.condition', `${node.path}: ${node.claim} ${node.reason}.`);
    else if (node.kind === 'authority')
      checks.fail('policy.authority', `${node.path}: authority ${node.authority}: ${node.reason}.`);
    else checks.fail('policy.condition', `${node.path}: ${node.reason}.`);
  }
  if (failed.length === 0) checks.fail('policy.authority', 'The release policy has no rule for this token.');
  return -1;
}

/**
 * `sim` tokens need both the broker's `--allow-simulated` and a policy rule for this token's
 * authority that holds and cannot hold without `sim` (see `simOnlyPolicy`): a `sim` condition in
 * some other rule does not admit a simulated token through a rule that never names it.
 */
function checkSim(input: ReleaseKeyInput, claims: Claims, checks: CheckList): void {
  checks.add(
    'release.sim.broker',
    input.allowSimulated,
    input.allowSimulated
      ? 'The broker allows simulated attestation (--allow-simulated).'
      : 'The token attests a simulated TEE and the broker was not started with --allow-simulated.',
  );
  const simRules = simOnlyPolicy(input.policy);
  const iss = claims.iss;
  const allows =
    simRules !== undefined &&
    evaluatePolicy(simRules, claims, typeof iss === 'string' ? { authority: iss } : {}).allowed;
  checks.add(
    'release.sim.policy',
    allows,
    allows
      ? 'The key release policy admits sim explicitly.'
      : 'The token attests a simulated TEE and no rule of the key release policy for this authority requires sim (x-ms-attestation-type equals "sim").',
  );
}

function denied(kid: string, checks: CheckList): SealtrainError {
  const failures = checks.failures;
  const reasons = failures.map((c) => `${c.id}: ${c.message}`);
  return new SealtrainError('ERR_RELEASE_DENIED', `Release of key ${kid} was denied: ${reasons.join(' ')}`, {
    details: { kid, failures: failures.map((c) => c.id), reasons },
  });
}

/**
 * Secure Key Release, as Azure Key Vault does it. Verifies the attestation token against the
 * trusted issuers (`verifyMaaToken`), evaluates the key's release policy with the token's `iss` as
 * authority, requires `allowSimulated` and a policy that admits `sim` for simulated tokens, and
 * finds the runtime key in `x-ms-runtime.keys` (RSA, or EC for `ECDH_ES_A256GCM`). Every check runs; any failure throws
 * `ERR_RELEASE_DENIED` whose message and `details.reasons` name each one (`maa.exp`,
 * `policy.condition`, `release.sim.broker`, `release.runtime-key`, …).
 *
 * On success the key material (PKCS #8 DER for RSA, raw bytes for oct) is wrapped to the runtime
 * key with the `enc` asked for (CKM_RSA_AES_KEY_WRAP and its variants: {@link rsaAesKeyWrap};
 * ECDH_ES_A256GCM: {@link ecdhEsWrap}) and returned in a JWS signed by the broker
 * whose payload mirrors Key Vault's release answer. The exported copy is wiped.
 */
export async function releaseKey(input: ReleaseKeyInput): Promise<ReleaseKeyResult> {
  const enc = checkInput(input);
  const { bytes, rsa } = materialOf(input.key);
  try {
    const checks = new CheckList();
    const claims = await verifyTarget(input.target, input.trusted, checks, input.now ?? new Date());
    if (claims === undefined) throw denied(input.key.kid, checks);
    const matchedRule = checkPolicy(input.policy, claims, checks);
    const attestationType = attestationTypeOf(claims);
    if (attestationType === 'sim') checkSim(input, claims, checks);
    const runtime = findRuntimeKey(claims, checks, isRsaReleaseEncryption(enc) ? 'rsa' : 'ec');
    if (!checks.ok || runtime === undefined) throw denied(input.key.kid, checks);
    const ciphertext = isRsaReleaseEncryption(enc)
      ? rsaAesKeyWrap(bytes, runtime.key, { enc, random: input.random ?? randomBytes })
      : await ecdhEsWrap(bytes, runtime.key, runtime.kid);
    const decision = {
      issuer: String(claims.iss),
      attestationType,
      matchedRule,
      runtimeKid: runtime.kid,
      enc,
    };
    return {
      value: signRelease(answer(input, { enc, rsa, runtimeKid: runtime.kid, ciphertext }), input.signer),
      decision,
    };
  } finally {
    bytes.fill(0);
  }
}

/** The payload of a granted release. */
function answer(
  input: ReleaseKeyInput,
  parts: { enc: ReleaseEncryption; rsa: KeyObject | undefined; runtimeKid: string; ciphertext: Buffer },
): Record<string, unknown> {
  const { enc, rsa, runtimeKid, ciphertext } = parts;
  return releasePayload({
    kid: input.key.kid,
    requestKid: input.requestKid ?? input.key.kid,
    kty: input.key.kty,
    keyOps: input.key.keyOps ?? DEFAULT_OPS[input.key.kty],
    ...(rsa ? { publicKey: rsa } : {}),
    enc,
    runtimeKid,
    ciphertext,
    apiVersion: input.apiVersion ?? RELEASE_API_VERSION,
    ...(input.nonce === undefined ? {} : { nonce: input.nonce }),
    ...(input.keyBundle === undefined ? {} : { keyBundle: input.keyBundle }),
  });
}
