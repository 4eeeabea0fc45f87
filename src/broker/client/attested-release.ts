import { type KeyObject, randomBytes } from 'node:crypto';
import { type Agent, request } from 'node:https';
import type { TokenCredential } from '@azure/core-auth';
import type { KeyClient, KeyClientOptions } from '@azure/keyvault-keys';
import { decodeJwt } from 'jose';
import { collectEvidence } from '../../attest/collect/collect-evidence.js';
import { isSealtrainError, SealtrainError } from '../../errors/index.js';
import { ECDH_ES_RELEASE } from '../release/ecdh-es-wrap.js';
import { isRsaReleaseEncryption, type ReleaseEncryption } from '../release/release-encryption.js';
import { type ReleasedKey, unwrapReleasedKey } from '../release/unwrap-released-key.js';
import { type RuntimeKey, takeRuntimeKey } from './runtime-key.js';

/** Options for {@link releaseWithAttestation}. */
export interface AttestedReleaseOptions {
  /** The broker (or Key Vault) URL, e.g. `https://127.0.0.1:8443`. */
  readonly vaultUrl: string;
  /** The workload principal's credential. */
  readonly credential: TokenCredential;
  /** The key to release and, optionally, its version. */
  readonly keyName: string;
  readonly version?: string;
  /** TLS trust for the broker's CA. */
  readonly agent?: Agent;
  /** SDK options for the release call (the same agent, `disableChallengeResourceVerification`). */
  readonly clientOptions?: KeyClientOptions;
  /** Use the simulated TEE with this key (development only; the broker must allow it). */
  readonly sim?: Parameters<typeof collectEvidence>[0]['sim'];
  /** Device root, configfs-tsm folder and TPM transport for collection (tests, unusual machines). */
  readonly collect?: Pick<Parameters<typeof collectEvidence>[0], 'root' | 'tsmDir' | 'tcti' | 'thim'>;
  /**
   * How released keys are wrapped (`enc` in each release request): default `ECDH_ES_A256GCM`, for
   * an EC P-256 runtime key, which the sealtrain broker answers; an RSA wrapping
   * (`CKM_RSA_AES_KEY_WRAP`, …) makes the runtime key RSA-2048, as Key Vault needs.
   */
  readonly enc?: ReleaseEncryption;
  /**
   * The ephemeral key the evidence binds, already on its way (see `prepareRuntimeKey`), of the
   * kind `enc` needs; default {@link takeRuntimeKey}. Used for this one attestation only.
   */
  readonly runtimeKey?: Promise<RuntimeKey>;
  /**
   * The SDK client for the releases, when the caller already uses one against this vault: its
   * challenge (one extra round trip per client) is then answered once for both. May be on its way
   * (the SDK loading) while the attestation's round trips are in flight.
   */
  readonly client?: KeyClient | Promise<KeyClient>;
}

function fail(what: string, cause?: unknown): SealtrainError {
  if (isSealtrainError(cause)) return cause;
  return new SealtrainError('ERR_BROKER_REQUEST', `Attested release failed: ${what}.`, { cause });
}

/** One JSON request to the broker's attestation endpoints with the principal's bearer token. */
async function call(url: string, token: string, agent: Agent | undefined, body?: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: body === undefined ? 'GET' : 'POST',
        ...(agent ? { agent } : {}),
        headers: {
          authorization: `Bearer ${token}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve(json);
          const message = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
          const code =
            message?.code === 'AttestationRejected'
              ? 'ERR_ATTEST_REJECTED'
              : status === 401 || status === 403
                ? 'ERR_BROKER_AUTH'
                : 'ERR_BROKER_REQUEST';
          reject(
            new SealtrainError(
              code,
              `${new URL(url).pathname} answered ${status}: ${message?.message ?? text.slice(0, 200)}`,
              {
                details: { status, url, ...(message?.code ? { reason: message.code } : {}) },
              },
            ),
          );
        });
      },
    );
    req.on('error', (e) => reject(fail(`cannot reach ${url} (${e.message})`, e)));
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** A workload that has proved its TEE to the broker once: releases keys with that one token. */
export interface AttestedWorkload {
  /** The broker's attestation token (a JWT; a bearer secret for releases, never printed). */
  readonly token: string;
  /** The token's claims (`x-ms-attestation-type`, `x-ms-sevsnpvm-*`, `iss`, `exp`, …), unverified here: the broker issued them. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** Releases one key (a version, or the newest) into this process. The caller wipes an `oct` key. */
  release(keyName: string, version?: string): Promise<ReleasedKey>;
}

/**
 * The workload side of Secure Key Release, in memory only: makes an ephemeral key pair (EC P-256
 * for the default `ECDH_ES_A256GCM`, RSA-2048 for Key Vault's wrappings), asks the broker for a nonce, collects evidence bound to the nonce and the public key and trades it
 * for an attestation token. Each {@link AttestedWorkload.release} then asks for one key with that
 * token (through the Azure SDK's `KeyClient.releaseKey` and a fresh release nonce), checks the
 * broker's signature and unwraps with the private key, which never leaves this process.
 */
export async function attestWorkload(
  options: Omit<AttestedReleaseOptions, 'keyName' | 'version'>,
): Promise<AttestedWorkload> {
  const base = options.vaultUrl.replace(/\/$/, '');
  // The ephemeral key is made on the thread pool (the slowest step by far) while the token, the
  // nonce and the broker's signing keys are fetched.
  const enc = options.enc ?? ECDH_ES_RELEASE;
  const runtimeKey = options.runtimeKey ?? takeRuntimeKey(isRsaReleaseEncryption(enc) ? 'rsa' : 'ec');
  runtimeKey.catch(() => {}); // awaited below, after the token: observed meanwhile
  const scope = 'https://vault.azure.net/.default';
  const bearer = (await options.credential.getToken(scope))?.token;
  if (!bearer) throw new SealtrainError('ERR_BROKER_AUTH', 'The credential gave no token for the broker.');
  const jwksSoon = call(`${base}/certs`, bearer, options.agent);
  jwksSoon.catch(() => {}); // awaited below, after the nonce and the evidence
  const [runtime, { nonce }] = await Promise.all([
    runtimeKey,
    call(`${base}/attest/nonce`, bearer, options.agent) as Promise<{ nonce: string }>,
  ]);
  if (typeof nonce !== 'string') throw fail('the broker gave no nonce');
  if ((runtime.privateKey.asymmetricKeyType === 'rsa') !== isRsaReleaseEncryption(enc))
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `attestWorkload: the runtime key is ${runtime.privateKey.asymmetricKeyType ?? 'unknown'}, which ${enc} does not wrap for.`,
      { details: { field: 'runtimeKey' } },
    );
  const envelope = await collectEvidence({
    nonce: Buffer.from(nonce, 'base64url'),
    runtimeKey: runtime.publicKey,
    ...(options.sim ? { sim: options.sim } : {}),
    ...options.collect,
  });
  const { token } = (await call(`${base}/attest/evidence`, bearer, options.agent, envelope)) as {
    token: string;
  };
  if (typeof token !== 'string') throw fail('the broker gave no attestation token');
  const jwks = await jwksSoon;
  const client = await (options.client ??
    import('@azure/keyvault-keys').then(
      ({ KeyClient }) => new KeyClient(base, options.credential, options.clientOptions),
    ));
  return {
    token,
    claims: decodeJwt(token),
    release: (keyName, version) =>
      releaseOne(client, { base, token, jwks, privateKey: runtime.privateKey, enc, keyName, version }),
  };
}

/** {@link attestWorkload} then one release: what `sealtrain keys release` does. */
export async function releaseWithAttestation(options: AttestedReleaseOptions): Promise<ReleasedKey> {
  return (await attestWorkload(options)).release(options.keyName, options.version);
}

interface ReleaseTarget {
  readonly base: string;
  readonly token: string;
  readonly jwks: unknown;
  readonly privateKey: KeyObject;
  readonly enc: ReleaseEncryption;
  readonly keyName: string;
  readonly version: string | undefined;
}

async function releaseOne(client: KeyClient, t: ReleaseTarget): Promise<ReleasedKey> {
  const releaseNonce = randomBytes(16).toString('base64url');
  let value: string;
  try {
    const version = t.version ? { version: t.version } : {};
    value = (
      await client.releaseKey(t.keyName, t.token, { nonce: releaseNonce, algorithm: t.enc, ...version })
    ).value;
  } catch (error) {
    const status = (error as { statusCode?: number }).statusCode;
    const kvCode = (error as { code?: string }).code;
    throw new SealtrainError(
      kvCode === 'AccessDenied'
        ? 'ERR_RELEASE_DENIED'
        : status === 401 || status === 403
          ? 'ERR_BROKER_AUTH'
          : 'ERR_BROKER_REQUEST',
      `The release of ${t.keyName} was refused: ${(error as Error).message}`,
      { cause: error, details: { key: t.keyName, ...(status ? { status } : {}) } },
    );
  }
  const released = await unwrapReleasedKey(value, t.privateKey, { brokerJwks: t.jwks, nonce: releaseNonce });
  const path = new URL(released.kid, t.base).pathname.split('/');
  const wrongVersion = t.version !== undefined && path[3] !== t.version;
  if (path[1] !== 'keys' || path[2] !== t.keyName || wrongVersion) {
    if (released.kty === 'oct') released.material.fill(0);
    throw new SealtrainError(
      'ERR_KMS_UNWRAP_FAILED',
      `The broker released ${released.kid}, not the key asked for (${t.keyName}).`,
      { details: { kid: released.kid, key: t.keyName } },
    );
  }
  return released;
}
