import { type KeyObject, randomBytes, X509Certificate } from 'node:crypto';
import { type Agent, request } from 'node:https';
import { rootCertificates } from 'node:tls';
import { isDeepStrictEqual } from 'node:util';
import type { TokenCredential } from '@azure/core-auth';
import type { KeyClient, KeyClientOptions } from '@azure/keyvault-keys';
import { decodeJwt } from 'jose';
import {
  AZURE_GUEST_API_VERSION,
  openAzureGuestToken,
  prepareAzureGuest,
  TPM_ENCRYPTION_KID,
} from '../../attest/azure-cvm/index.js';
import { fetchAzureVcekChain } from '../../attest/collect/azure-thim.js';
import { collectEvidence } from '../../attest/collect/collect-evidence.js';
import { collectSnpReport, type SnpCollected } from '../../attest/collect/collect-snp.js';
import { detectTee, type TeeDetection } from '../../attest/collect/detect.js';
import { verifyMaaToken } from '../../attest/maa/index.js';
import {
  MAA_API_VERSION,
  maaCertChain,
  maaRuntimeData,
  maaSevSnpVmBody,
} from '../../attest/maa/sev-snp-vm-request.js';
import { pemBlocks } from '../../attest/read-certificates.js';
import { isSealtrainError, SealtrainError } from '../../errors/index.js';
import { ECDH_ES_RELEASE } from '../release/ecdh-es-wrap.js';
import {
  DEFAULT_RELEASE_ENCRYPTION,
  isRsaReleaseEncryption,
  type ReleaseEncryption,
} from '../release/release-encryption.js';
import type { HeldRsaKey } from '../release/rsa-aes-key-wrap.js';
import {
  type ReleasedKey,
  type UnwrapReleasedKeyOptions,
  unwrapReleasedKey,
} from '../release/unwrap-released-key.js';
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
  readonly collect?: CollectOverrides;
  /**
   * Attest to Microsoft Azure Attestation (MAA) instead of the vault's own endpoints, as Azure Key
   * Vault needs: the SEV-SNP report goes to `{url}/attest/SevSnpVm`, the token MAA signs is checked
   * here (issuer `url`, its keys from `{url}/certs`, this runtime key in `x-ms-runtime`) and sent
   * with each release. The runtime key is RSA-2048 and `enc` defaults to `CKM_RSA_AES_KEY_WRAP`.
   */
  readonly maa?: { readonly url: string; readonly agent?: Agent };
  /**
   * How released keys are wrapped (`enc` in each release request): default `ECDH_ES_A256GCM`, for
   * an EC P-256 runtime key, which the sealtrain broker answers; an RSA wrapping
   * (`CKM_RSA_AES_KEY_WRAP`, …) makes the runtime key RSA-2048, as Key Vault needs.
   */
  readonly enc?: ReleaseEncryption;
  /** The vault's CA (PEM), besides the system's roots, for the `x5c` chain of its answers (MAA mode). */
  readonly vaultCa?: string;
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

/** Collection overrides: device paths, and for tests a stand-in for the AMD secure processor. */
export type CollectOverrides = Pick<
  Parameters<typeof collectEvidence>[0],
  'root' | 'tsmDir' | 'tcti' | 'thim'
> & {
  /**
   * Makes the SEV-SNP report over the given 64 bytes instead of configfs-tsm (MAA mode only). For
   * tests: no machine here has the hardware, so a test PKI signs in its place.
   */
  readonly snpReport?: (reportData: Buffer) => Promise<SnpCollected>;
};

function fail(what: string, cause?: unknown): SealtrainError {
  if (isSealtrainError(cause)) return cause;
  return new SealtrainError('ERR_BROKER_REQUEST', `Attested release failed: ${what}.`, { cause });
}

/**
 * The SDK client for a vault (a broker or Key Vault), loaded on demand: the SDK takes a while to
 * load, so callers start this early and await it late. The SDK's pipeline looks up the global
 * `FormData` on its first request, which makes Node compile its built-in fetch stack (about 20 ms
 * of this thread): it is looked up here, while the attestation is on its way, rather than between
 * the attestation and the first release.
 */
export function keyClientFor(
  vaultUrl: string,
  credential: TokenCredential,
  clientOptions: KeyClientOptions | undefined,
): Promise<KeyClient> {
  return import('@azure/keyvault-keys').then(({ KeyClient }) => {
    void globalThis.FormData; // compiles Node's fetch stack now (see above), nothing else
    return new KeyClient(vaultUrl, credential, clientOptions);
  });
}

/** Refuses a runtime key of another kind than `enc` wraps for (RSA for Key Vault's, EC for sealtrain's). */
function checkRuntimeFits(runtime: RuntimeKey, enc: ReleaseEncryption): void {
  if ((runtime.privateKey.asymmetricKeyType === 'rsa') !== isRsaReleaseEncryption(enc))
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `attestWorkload: the runtime key is ${runtime.privateKey.asymmetricKeyType ?? 'unknown'}, which ${enc} does not wrap for.`,
      { details: { field: 'runtimeKey' } },
    );
}

/** The largest answer read from the broker or MAA. */
const MAX_ANSWER_BYTES = 1024 * 1024;

/** How long a request to the broker or MAA may go without an answer. */
const CALL_TIMEOUT_MS = 30_000;

/**
 * One JSON request: to the broker's attestation endpoints with the principal's bearer token, or
 * to MAA (no token).
 */
async function call(
  url: string,
  token: string | undefined,
  agent: Agent | undefined,
  body?: unknown,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    // A deadline for the whole exchange, not only between bytes.
    const deadline = AbortSignal.timeout(CALL_TIMEOUT_MS);
    const req = request(
      url,
      {
        method: body === undefined ? 'GET' : 'POST',
        ...(agent ? { agent } : {}),
        signal: deadline,
        headers: {
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES) req.destroy(new Error(`the answer is over ${MAX_ANSWER_BYTES} bytes`));
          else chunks.push(c);
        });
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
    req.on('error', (e) =>
      reject(
        deadline.aborted
          ? fail(`${url} gave no answer within ${CALL_TIMEOUT_MS / 1000} s`, e)
          : fail(`cannot reach ${url} (${e.message})`, e),
      ),
    );
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
  /**
   * Lets go of what the releases needed beyond this process's memory (on an Azure confidential VM,
   * the vTPM encryption key): call it once the releases are done. Later releases fail.
   */
  close(): Promise<void>;
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
  const enc = options.enc ?? (options.maa ? DEFAULT_RELEASE_ENCRYPTION : ECDH_ES_RELEASE);
  // With MAA the key is made only once the machine is known: an Azure CVM's is made in its vTPM.
  if (options.maa) {
    options.runtimeKey?.catch(() => {}); // awaited on the SevSnpVm path
    return attestWithMaa(options, options.maa, base, enc, options.runtimeKey);
  }
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
  checkRuntimeFits(runtime, enc);
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
  const client = await (options.client ?? keyClientFor(base, options.credential, options.clientOptions));
  return {
    token,
    claims: decodeJwt(token),
    release: (keyName, version) =>
      releaseOne(client, {
        base,
        token,
        verify: { jwks },
        privateKey: runtime.privateKey,
        enc,
        keyName,
        version,
      }),
    close: async () => {},
  };
}

/**
 * {@link attestWorkload} against Azure Key Vault: evidence to MAA, MAA's token checked here, then
 * releases from the vault with that token. Vault answers must carry an `x5c` chain (Key Vault
 * signs with a certificate; so does the sealtrain broker) to a root the system trusts or the
 * vault's CA, its first certificate issued for the vault's name.
 */
async function attestWithMaa(
  options: Omit<AttestedReleaseOptions, 'keyName' | 'version'>,
  maa: NonNullable<AttestedReleaseOptions['maa']>,
  base: string,
  enc: ReleaseEncryption,
  runtimeKey: Promise<RuntimeKey> | undefined,
): Promise<AttestedWorkload> {
  if (options.sim)
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      'MAA never accepts simulated evidence: security.tee "sim" cannot be used with security.maa. Attest sim runs to a sealtrain broker started with --allow-simulated.',
      { details: { field: 'security.maa' } },
    );
  if (!isRsaReleaseEncryption(enc))
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `Key Vault wraps released keys with RSA; ${enc} is sealtrain's own.`,
      { details: { field: 'enc' } },
    );
  const maaBase = maa.url.replace(/\/$/, '');
  const clientSoon = Promise.resolve(
    options.client ?? keyClientFor(base, options.credential, options.clientOptions),
  );
  clientSoon.catch(() => {}); // awaited after the attestation
  const detection = await maaMachine(options.collect);
  if (detection?.platform === 'azure-cvm')
    return attestAzureGuest(options, { ...maa, base: maaBase }, base, enc, clientSoon);
  if (detection) checkSnpGuest(detection);
  const runtime = await (runtimeKey ?? takeRuntimeKey('rsa'));
  checkRuntimeFits(runtime, enc);
  const data = maaRuntimeData(runtime.publicKey, randomBytes(32));
  const snp = options.collect?.snpReport
    ? await options.collect.snpReport(data.reportData)
    : await collectSnpReport(
        data.reportData,
        options.collect?.tsmDir ? { tsmDir: options.collect.tsmDir } : {},
      );
  const body = maaSevSnpVmBody(snp.report, maaCertChain(snp.report, snp.certificates), data.json);
  const answer = await postToMaa(`${maaBase}/attest/SevSnpVm?api-version=${MAA_API_VERSION}`, body, {
    ...maa,
    base: maaBase,
  });
  const sent = JSON.parse(data.json.toString('utf8'));
  // MAA copies JSON runtime data into x-ms-runtime: it must be exactly what was sent (this key,
  // this nonce), or the vault would wrap for a key that is not this process's.
  const claims = await checkMaaToken(answer, maaBase, maa.agent, (runtime) =>
    isDeepStrictEqual(runtime, sent)
      ? undefined
      : "The token's x-ms-runtime is not the runtime data sent (this workload's key and nonce).",
  );
  return vaultWorkload(options, base, await clientSoon, {
    token: answer,
    claims,
    key: runtime.privateKey,
    enc,
  });
}

/** The roots and name a vault's `x5c` answers are checked against, and the workload releasing with MAA's token. */
function vaultWorkload(
  options: Omit<AttestedReleaseOptions, 'keyName' | 'version'>,
  base: string,
  client: KeyClient,
  t: { token: string; claims: Record<string, unknown>; key: KeyObject | HeldRsaKey; enc: ReleaseEncryption },
  close: () => Promise<void> = async () => {},
): AttestedWorkload {
  // Key Vault signs its answers with a certificate: an answer without its chain is refused. The
  // roots are those the vault's TLS is trusted by (its CA file when given, else the system's),
  // parsed once for every release.
  const x5c = {
    roots: (options.vaultCa ? pemBlocks(options.vaultCa) : rootCertificates).map(
      (pem) => new X509Certificate(pem),
    ),
    host: new URL(base).hostname,
  };
  return {
    token: t.token,
    claims: t.claims,
    release: (keyName, version) =>
      releaseOne(client, {
        base,
        token: t.token,
        verify: { x5c },
        privateKey: t.key,
        enc: t.enc,
        keyName,
        version,
      }),
    close,
  };
}

/** POSTs evidence to MAA; resolves to the token it answers (not yet checked). */
async function postToMaa(
  url: string,
  body: unknown,
  maa: { readonly base: string; readonly agent?: Agent },
): Promise<string> {
  const answer = (await call(url, undefined, maa.agent, body).catch((error: unknown) => {
    // MAA answers 400 for evidence it refuses; anything else (a wrong URL, throttling, an outage)
    // is a failed request, not a verdict.
    const status = isSealtrainError(error)
      ? (error.details as { status?: number } | undefined)?.status
      : undefined;
    throw new SealtrainError(
      status === 400 ? 'ERR_ATTEST_REJECTED' : 'ERR_BROKER_REQUEST',
      status === 400
        ? `MAA (${maa.base}) rejected the evidence: ${(error as Error).message}`
        : `The request to MAA (${maa.base}) failed: ${(error as Error).message}`,
      { cause: error, details: { url: maa.base, ...(status ? { status } : {}) } },
    );
  })) as { token?: unknown } | undefined;
  const token = answer?.token;
  if (typeof token !== 'string') throw fail(`MAA (${maa.base}) gave no token`);
  return token;
}

/**
 * {@link attestWithMaa} on an Azure confidential VM, where the SEV-SNP report sits behind the
 * vTPM: MAA's AzureGuest protocol. The vTPM makes an encryption key bound to PCRs 0–7 and
 * certified by its attestation key; MAA answers with its token encrypted to that key, and Key
 * Vault wraps each released key to it, so every unwrap happens in the vTPM. The nonce goes in
 * the client payload. The token is checked as on the SevSnpVm path, and must name this key (and
 * no other) as `TpmEphemeralEncryptionKey` and carry this nonce.
 */
async function attestAzureGuest(
  options: Omit<AttestedReleaseOptions, 'keyName' | 'version'>,
  maa: { readonly url: string; readonly base: string; readonly agent?: Agent },
  base: string,
  enc: ReleaseEncryption,
  clientSoon: Promise<KeyClient>,
): Promise<AttestedWorkload> {
  const collect = options.collect;
  if (collect?.thim === false)
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      "MAA needs the VM's VCEK, which an Azure confidential VM gets from THIM: it cannot be turned off with MAA.",
      { details: { field: 'thim' } },
    );
  // THIM answers while the vTPM works.
  const certificates = fetchAzureVcekChain(collect?.thim ?? {}).then((thim) => ({
    vcek: thim.vcek,
    ...(thim.chain[0] ? { ask: thim.chain[0] } : {}),
    ...(thim.chain[1] ? { ark: thim.chain[1] } : {}),
  }));
  certificates.catch(() => {}); // awaited by prepareAzureGuest
  const nonce = randomBytes(32).toString('base64url');
  const request = await prepareAzureGuest({
    clientPayload: { nonce },
    certificates,
    ...(collect?.tcti ? { tcti: collect.tcti } : {}),
    ...(collect?.root ? { root: collect.root } : {}),
  });
  try {
    const sealed = await postToMaa(
      `${maa.base}/attest/AzureGuest?api-version=${AZURE_GUEST_API_VERSION}`,
      request.body,
      maa,
    );
    const token = await openAzureGuestToken(sealed, request.key);
    const ours = request.key.publicKey.export({ format: 'jwk' });
    const claims = await checkMaaToken(token, maa.base, maa.agent, (runtime) => {
      const r = (runtime ?? {}) as { keys?: unknown; 'client-payload'?: { nonce?: unknown } };
      const expected = Buffer.from(nonce).toString('base64');
      if (r['client-payload']?.nonce !== expected)
        return "The token's x-ms-runtime.client-payload.nonce is not the nonce sent.";
      // Exactly this key, nothing beside it: the vault must have no other key to wrap for.
      const keys = Array.isArray(r.keys) ? (r.keys as Record<string, unknown>[]) : [];
      const [only] = keys;
      if (keys.length !== 1 || only?.kid !== TPM_ENCRYPTION_KID || only.n !== ours.n || only.e !== ours.e)
        return `The token's x-ms-runtime.keys is not this vTPM's encryption key alone, as ${TPM_ENCRYPTION_KID}.`;
      return undefined;
    });
    return vaultWorkload(options, base, await clientSoon, { token, claims, key: request.key, enc }, () =>
      request.key.close(),
    );
  } catch (error) {
    await request.key.close().catch(() => {}); // the attestation's error comes first
    throw error;
  }
}

/**
 * Checks the token MAA answered before it goes anywhere: signed by a key at `{maa}/certs`, issued
 * by that MAA, in date, and holding this workload's runtime key in `x-ms-runtime` (the key the
 * vault will wrap for). A failure is `ERR_ATTEST_REJECTED` naming the checks.
 */
async function checkMaaToken(
  token: string,
  maaBase: string,
  agent: Agent | undefined,
  checkRuntime: (runtime: unknown) => string | undefined,
): Promise<Record<string, unknown>> {
  const result = await verifyMaaToken(token, {
    issuers: [maaBase],
    fetchJwks: (url) => call(url, undefined, agent),
  });
  const failed = result.checks.filter((c) => !c.ok);
  const runtimeFailure = checkRuntime(result.claims['x-ms-runtime']);
  if (runtimeFailure) failed.push({ id: 'maa.runtime', ok: false, message: runtimeFailure });
  if (failed.length > 0)
    throw new SealtrainError(
      'ERR_ATTEST_REJECTED',
      `The token from MAA (${maaBase}) does not verify: ${failed.map((c) => `${c.id}: ${c.message}`).join(' ')}`,
      { details: { url: maaBase, failures: failed.map((c) => c.id) } },
    );
  return result.claims as Record<string, unknown>;
}

/** Each file-system root's detection: a run asks up to three times (CLI, key access, attestation). */
const detections = new Map<string, Promise<TeeDetection>>();

/** The machine MAA evidence comes from; none when a test stands in for the SEV-SNP hardware. */
function maaMachine(collect: CollectOverrides | undefined): Promise<TeeDetection | undefined> {
  if (collect?.snpReport) return Promise.resolve(undefined);
  const root = collect?.root ?? '/';
  let found = detections.get(root);
  if (!found) {
    found = detectTee(collect?.root ? { root: collect.root } : {});
    detections.set(root, found);
    found.catch(() => detections.delete(root));
  }
  return found;
}

/**
 * Whether an attestation through MAA holds its key in the vTPM (an Azure confidential VM, MAA's
 * AzureGuest path) rather than in this process: then no software runtime key is needed.
 */
export async function keyInVtpm(collect?: CollectOverrides): Promise<boolean> {
  return (await maaMachine(collect))?.platform === 'azure-cvm';
}

/** Refuses a machine whose SEV-SNP report MAA cannot get from configfs-tsm. */
function checkSnpGuest(detection: TeeDetection): void {
  if (detection.platform !== 'sevsnp' || !detection.supported)
    throw new SealtrainError(
      detection.platform === 'none' ? 'ERR_ATTEST_NO_TEE' : 'ERR_ATTEST_UNSUPPORTED',
      `MAA attestation needs an SEV-SNP guest with configfs-tsm or an Azure confidential VM with its vTPM: ${detection.summary}`,
      { details: { platform: detection.platform } },
    );
}

/** {@link attestWorkload} then one release: what `sealtrain keys release` does. */
export async function releaseWithAttestation(options: AttestedReleaseOptions): Promise<ReleasedKey> {
  const workload = await attestWorkload(options);
  let released: ReleasedKey;
  try {
    released = await workload.release(options.keyName, options.version);
  } catch (error) {
    // The release's own error is the one to report, not a failure to close after it.
    await workload.close().catch(() => {});
    throw error;
  }
  try {
    await workload.close();
  } catch (error) {
    // The key is not handed out: its bytes are wiped before the error goes on.
    if (released.kty === 'oct') released.material.fill(0);
    throw error;
  }
  return released;
}

interface ReleaseTarget {
  readonly base: string;
  readonly token: string;
  /** How answers are verified: the broker's signing keys, or an `x5c` chain (Key Vault). */
  readonly verify:
    | { readonly jwks: unknown }
    | { readonly x5c: NonNullable<UnwrapReleasedKeyOptions['x5c']> };
  readonly privateKey: KeyObject | HeldRsaKey;
  readonly enc: ReleaseEncryption;
  readonly keyName: string;
  readonly version: string | undefined;
}

async function releaseOne(client: KeyClient, t: ReleaseTarget): Promise<ReleasedKey> {
  const releaseNonce = randomBytes(16).toString('base64url');
  let value: string;
  // A deadline for the release with the SDK's retries, not only between bytes.
  const deadline = AbortSignal.timeout(CALL_TIMEOUT_MS);
  try {
    const version = t.version ? { version: t.version } : {};
    value = (
      await client.releaseKey(t.keyName, t.token, {
        nonce: releaseNonce,
        algorithm: t.enc,
        abortSignal: deadline,
        ...version,
      })
    ).value;
  } catch (error) {
    if (deadline.aborted)
      throw new SealtrainError(
        'ERR_BROKER_REQUEST',
        `The release of ${t.keyName} got no answer from ${t.base} within ${CALL_TIMEOUT_MS / 1000} s.`,
        { cause: error, details: { key: t.keyName } },
      );
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
  const released = await unwrapReleasedKey(value, t.privateKey, {
    ...('x5c' in t.verify ? { brokerJwks: undefined, x5c: t.verify.x5c } : { brokerJwks: t.verify.jwks }),
    nonce: releaseNonce,
  });
  const kid = URL.canParse(released.kid, t.base) ? new URL(released.kid, t.base) : undefined;
  const path = kid?.pathname.split('/') ?? [];
  const wrongVersion = t.version !== undefined && path[3] !== t.version;
  // Key Vault names its keys by their full URL: with MAA, the key must be this vault's.
  const wrongVault = 'x5c' in t.verify && kid?.origin !== new URL(t.base).origin;
  if (kid === undefined || path[1] !== 'keys' || path[2] !== t.keyName || wrongVersion || wrongVault) {
    if (released.kty === 'oct') released.material.fill(0);
    throw new SealtrainError(
      'ERR_KMS_UNWRAP_FAILED',
      `The broker released ${released.kid}, not the key asked for (${t.keyName}).`,
      { details: { kid: released.kid, key: t.keyName } },
    );
  }
  return released;
}
