import { createPublicKey, type KeyObject } from 'node:crypto';
import { Agent } from 'node:https';
import { createSecureContext } from 'node:tls';
import type { TokenCredential } from '@azure/core-auth';
import type { KeyClient, KeyClientOptions } from '@azure/keyvault-keys';
import type { AuditSink } from '../audit/index.js';
import {
  type AttestedWorkload,
  attestWorkload,
  keyClientFor,
  keyInVtpm,
} from '../broker/client/attested-release.js';
import { type RuntimeKey, takeRuntimeKey } from '../broker/client/runtime-key.js';
import { isSealtrainError, SealtrainError } from '../errors/index.js';
import { deferred } from '../internal/deferred.js';
import { type KeyProvider, parseAzureKvUri, ReleasedKeyProvider } from '../kms/index.js';
import { inspectFile } from '../seal/index.js';
import { type AttestationSummary, summariseClaims } from './attestation-summary.js';
import { isSealed } from './load-inputs.js';

/** How the workload reaches the broker (or Key Vault). */
export interface BrokerAccess {
  readonly credential: TokenCredential;
  /** The broker's CA certificate (PEM); omitted for Azure Key Vault. */
  readonly ca?: string;
  /**
   * The vault to trust when `security.key` is not an `azurekv:` key (`security.broker.url`).
   * Keys are released only from the vault configured here, never from one an input names.
   */
  readonly url?: string;
  /**
   * Attest to this Microsoft Azure Attestation provider instead of the broker (`security.maa`), as
   * Azure Key Vault needs; `ca` is the provider's TLS CA (PEM) when it is not publicly trusted.
   */
  readonly maa?: { readonly url: string; readonly ca?: string };
}

/** Options for {@link openKeyAccess}. */
export interface KeyAccessOptions {
  /** Sealed inputs: the keys their recipients name are released (or opened locally). */
  readonly inputs: readonly string[];
  /** The model owner's key (`security.key`): outputs are wrapped for it. */
  readonly outputKey: string;
  /** Also release the output key (to open a sealed model: evaluate, predict). */
  readonly releaseOutputKey?: boolean;
  /** `security.attestation`: every input key through attested release. */
  readonly attestation: boolean;
  /** The simulated TEE's key (INSECURE; `security.tee` = `sim`), else real evidence. */
  readonly sim?: { readonly privateKey: KeyObject };
  readonly broker?: BrokerAccess;
  /** Providers for `local:` and `pkcs11:` keys (development runs, local output keys). */
  readonly localProviders?: readonly KeyProvider[];
  /** Where releases are recorded. */
  readonly audit: { readonly sink: AuditSink; readonly actor: string };
  /** Evidence collection overrides (tests, unusual machines). */
  readonly collect?: Parameters<typeof attestWorkload>[0]['collect'];
}

/** Keys a run may use, held in memory. */
export interface KeyAccess {
  /** Providers for seal and unseal calls: released keys first, then the local ones. */
  readonly providers: readonly KeyProvider[];
  /** What the broker's token said about this TEE, when keys were released. */
  readonly attestation: AttestationSummary | undefined;
  /** The key versions released. */
  readonly released: readonly { readonly uri: string; readonly version: string }[];
  /** Forgets every released key. */
  close(): void;
}

interface AzureTarget {
  readonly vaultUrl: string;
  readonly name: string;
  readonly version: string;
  /** The file that named it ('' for the output key). */
  readonly input: string;
}

/** The `azurekv:` recipient of each input, or the reason there is none. */
async function inputTargets(inputs: readonly string[], attestation: boolean): Promise<AzureTarget[]> {
  const targets = new Map<string, AzureTarget>();
  for (const input of inputs) {
    if (!(await isSealed(input))) {
      if (attestation)
        throw new SealtrainError(
          'ERR_RUN_NOT_ATTESTED',
          `${input} is not sealed: with security.attestation on, every input must be sealed (anyone who can write the disk could have put it there). Seal it, or set security.attestation to false for a development run.`,
          { details: { path: input } },
        );
      continue;
    }
    const { recipients } = await inspectFile(input);
    const azure = recipients.find((r) => r.uri.startsWith('azurekv:'));
    if (!azure) {
      if (attestation)
        throw new SealtrainError(
          'ERR_RUN_NOT_ATTESTED',
          `${input} is sealed only for ${recipients.map((r) => r.uri).join(', ')}, which no attested release can give; seal it for an azurekv: key with a release policy, or set security.attestation to false for a development run.`,
          { details: { path: input } },
        );
      continue;
    }
    const { vaultUrl, name } = parseAzureKvUri(azure.uri);
    targets.set(`${vaultUrl}/${name}/${azure.version}`, { vaultUrl, name, version: azure.version, input });
  }
  return [...targets.values()];
}

/** The vault the config names: `security.key`'s when it is an `azurekv:` key, else `security.broker.url`. */
function configuredVault(o: KeyAccessOptions): string | undefined {
  const url = o.outputKey.startsWith('azurekv:') ? parseAzureKvUri(o.outputKey).vaultUrl : o.broker?.url;
  return url === undefined ? undefined : new URL(url).origin;
}

/**
 * The one vault this run trusts, {@link configuredVault}. An input that names another vault is
 * refused before any key is asked for, and no token or evidence ever goes to it: whoever can write
 * the disk must not choose where the workload's credential goes.
 */
function trustedVault(configured: string | undefined, targets: readonly AzureTarget[]): string {
  if (configured === undefined)
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      'Inputs sealed for azurekv: keys need the vault named in the config: security.key as an azurekv: key, or security.broker.url.',
    );
  for (const t of targets)
    if (new URL(t.vaultUrl).origin !== configured)
      throw new SealtrainError(
        'ERR_RUN_NOT_ATTESTED',
        `${t.input} is sealed for a key in ${new URL(t.vaultUrl).host}, but this run releases keys only from ${new URL(configured).host} (security.key or security.broker.url).`,
        { details: { path: t.input } },
      );
  return configured;
}

async function recordRelease(
  o: KeyAccessOptions,
  target: { uri: string; version?: string },
  outcome: 'ok' | 'error',
  details: Record<string, string>,
  code?: string,
): Promise<void> {
  await o.audit.sink.record({
    actor: o.audit.actor,
    action: 'run.release',
    outcome,
    key: target,
    ...(code ? { code } : {}),
    details,
  });
}

/**
 * {@link openKeyAccess}'s answer: the keys once all are there, and, sooner, the providers that open
 * the inputs.
 */
export interface KeyAccessSoon extends Promise<KeyAccess> {
  /**
   * Resolves once every input key is released, before the output key's public part is read: a
   * run decrypts its inputs meanwhile. Its providers are the final ones; the output key's public
   * part is added to them later. The promise it extends carries any error, this one's too.
   */
  readonly inputProviders: Promise<readonly KeyProvider[]>;
}

/**
 * Gets the keys a run needs: reads each sealed input's recipients, proves this TEE to the broker
 * once (evidence bound to a fresh nonce and an ephemeral key), releases every `azurekv:` key
 * version named (and the output key when asked), and loads the output key's public part to wrap
 * for. Key material stays in this process. Each release, allowed or refused, is audited.
 */
export function openKeyAccess(o: KeyAccessOptions): KeyAccessSoon {
  // Observed: the whole answer carries the error to whoever awaits it.
  const inputs = deferred<readonly KeyProvider[]>();
  const all = openAll(o, inputs.resolve);
  all.then((k) => inputs.resolve(k.providers), inputs.reject);
  return Object.assign(all, { inputProviders: inputs.promise });
}

/** What reaches the vault: its TLS agents, the SDK client, the output key's public part. */
interface VaultConnection {
  readonly vaultUrl: string;
  readonly agent: Agent;
  readonly maa: { readonly url: string; readonly agent: Agent } | undefined;
  readonly clientOptions: KeyClientOptions;
  readonly clientSoon: Promise<KeyClient>;
  readonly publicSoon: Promise<{ version: string; publicKey: KeyObject }> | undefined;
  close(): void;
}

/**
 * A keep-alive agent to one host. Requests made at once (the output key's public part beside the
 * attestation) each open a connection: queueing them on one would save the handshakes' CPU but add
 * round trips to a vault across a network. A private CA is parsed once, into one TLS context that
 * every connection shares, not once per connection.
 */
function vaultAgent(ca: string | undefined): Agent {
  return new Agent({ keepAlive: true, ...(ca ? { secureContext: createSecureContext({ ca }) } : {}) });
}

function connect(
  broker: BrokerAccess,
  vaultUrl: string,
  outputAzure: { readonly name: string } | undefined,
): VaultConnection {
  // The connections for the nonce, the evidence, the public key and the releases; closed below.
  const agent = vaultAgent(broker.ca);
  const maa = broker.maa && { url: broker.maa.url, agent: vaultAgent(broker.maa.ca) };
  const clientOptions = {
    agent,
    // The challenge names vault.azure.net, not the broker's address: only for a broker we trust by CA.
    disableChallengeResourceVerification: broker.ca !== undefined,
    retryOptions: { maxRetries: 2 },
  };
  // One client for the output key's public part and the releases: one challenge round trip. The
  // SDK loads while the attestation's first round trips (plain HTTPS) are in flight.
  const clientSoon = keyClientFor(vaultUrl, broker.credential, clientOptions);
  clientSoon.catch(() => {}); // awaited below
  // The output key's public part needs no attestation: it is read while the TEE proves itself.
  const publicSoon = outputAzure
    ? clientSoon.then((client) => loadPublicKey(client, vaultUrl, outputAzure.name))
    : undefined;
  publicSoon?.catch(() => {}); // awaited after the releases, whose errors come first
  return {
    vaultUrl,
    agent,
    maa,
    clientOptions,
    clientSoon,
    publicSoon,
    close: () => {
      agent.destroy();
      maa?.agent.destroy();
    },
  };
}

function attest(
  o: KeyAccessOptions,
  c: VaultConnection,
  runtimeKey: Promise<RuntimeKey> | undefined,
): Promise<AttestedWorkload> {
  const broker = o.broker as BrokerAccess;
  return attestWorkload({
    vaultUrl: c.vaultUrl,
    credential: broker.credential,
    agent: c.agent,
    clientOptions: c.clientOptions,
    client: c.clientSoon,
    ...(runtimeKey ? { runtimeKey } : {}),
    ...(c.maa ? { maa: c.maa } : {}),
    ...(broker.ca ? { vaultCa: broker.ca } : {}),
    ...(o.sim ? { sim: o.sim } : {}),
    ...(o.collect ? { collect: o.collect } : {}),
  });
}

/** Lets go of an attestation started early that the run will not use: its workload, its connection. */
async function abandon(
  early: { connection: VaultConnection; workload: Promise<AttestedWorkload> } | undefined,
): Promise<void> {
  if (!early) return;
  await early.workload.then(
    (w) => w.close(),
    () => {},
  );
  early.connection.close();
}

async function openAll(
  o: KeyAccessOptions,
  inputsReady: (providers: readonly KeyProvider[]) => void,
): Promise<KeyAccess> {
  // The ephemeral key of the attestation takes longest of anything here: it is made on the thread
  // pool while the inputs are inspected and the broker is reached.
  // Key Vault (through MAA) wraps for RSA; the broker answers sealtrain's EC wrapping.
  const kind = o.broker?.maa ? 'rsa' : 'ec';
  // On an Azure CVM, MAA's path makes its key in the vTPM: no software key is made for nothing.
  const inVtpm = o.broker?.maa !== undefined && (await keyInVtpm(o.collect));
  let runtimeKey = (o.attestation || o.releaseOutputKey) && !inVtpm ? takeRuntimeKey(kind) : undefined;
  runtimeKey?.catch(() => {}); // awaited by the attestation, if one happens
  const outputAzure = o.outputKey.startsWith('azurekv:') ? parseAzureKvUri(o.outputKey) : undefined;
  const configured = configuredVault(o);
  // When the run will attest whatever its inputs name (an attested run with inputs, or a release of
  // the output key), it starts at once, to the vault the config names, while the inputs' recipients
  // are read; those are checked against that vault before any key is asked for.
  let early: { connection: VaultConnection; workload: Promise<AttestedWorkload> } | undefined;
  if (
    o.broker &&
    configured !== undefined &&
    ((o.attestation && o.inputs.length > 0) || (o.releaseOutputKey && outputAzure))
  ) {
    const connection = connect(o.broker, configured, outputAzure);
    const workload = attest(o, connection, runtimeKey);
    workload.catch(() => {}); // awaited below, after the inputs' checks
    early = { connection, workload };
  }
  let targets: AzureTarget[];
  let vaultUrl: string | undefined;
  try {
    targets = await inputTargets(o.inputs, o.attestation);
    if (targets.length > 0 || outputAzure) {
      if (!o.broker)
        throw new SealtrainError(
          'ERR_USAGE_INVALID',
          'azurekv: keys need security.broker (or Entra ID in Azure).',
        );
      vaultUrl = trustedVault(configured, targets);
    }
  } catch (error) {
    await abandon(early);
    throw error;
  }
  const local = o.localProviders ?? [];
  if (vaultUrl === undefined || !o.broker) {
    await abandon(early); // not reached when it started early (its inputs name azurekv: keys)
    return { providers: local, attestation: undefined, released: [], close: () => {} };
  }
  const c = early?.connection ?? connect(o.broker, vaultUrl, outputAzure);
  const provider = new ReleasedKeyProvider();
  const released: { uri: string; version: string }[] = [];
  let workload: AttestedWorkload | undefined;
  const host = new URL(vaultUrl).host;
  try {
    if (early) workload = await early.workload;
    else if (targets.length > 0 || o.releaseOutputKey) {
      if (!inVtpm) runtimeKey ??= takeRuntimeKey(kind);
      workload = await attest(o, c, runtimeKey);
    }
    const wanted = [...targets];
    if (outputAzure && o.releaseOutputKey)
      wanted.push({ vaultUrl, name: outputAzure.name, version: '', input: '' });
    for (const t of wanted) {
      const uri = `azurekv://${host}/keys/${t.name}`;
      const label = t.version ? { uri, version: t.version } : { uri };
      const tee = String(workload?.claims['x-ms-attestation-type'] ?? 'unknown');
      try {
        const key = await (workload as AttestedWorkload).release(t.name, t.version || undefined);
        if (key.kty !== 'RSA') {
          key.material.fill(0);
          throw new SealtrainError(
            'ERR_KMS_UNWRAP_FAILED',
            `${uri} is not an RSA key; sealed data keys need one.`,
          );
        }
        const version = new URL(key.kid).pathname.split('/')[3] ?? t.version;
        provider.addReleased(uri, version, key.material);
        released.push({ uri, version });
        await recordRelease(o, { uri, version }, 'ok', { tee });
      } catch (error) {
        const code = isSealtrainError(error) ? error.code : 'ERR_INTERNAL';
        await recordRelease(o, label, 'error', { tee }, code);
        throw error;
      }
    }
    // The inputs can be opened now; the output key's public part is needed only for the outputs.
    inputsReady([provider, ...local]);
    if (outputAzure && c.publicSoon) {
      const { version, publicKey } = await c.publicSoon;
      provider.addPublic(`azurekv://${host}/keys/${outputAzure.name}`, version, publicKey);
    }
  } catch (error) {
    provider.close();
    throw error;
  } finally {
    // On an Azure confidential VM this flushes the vTPM encryption key the releases were wrapped to.
    await workload?.close();
    c.close();
  }
  return {
    providers: [provider, ...local],
    attestation: workload ? summariseClaims(workload.claims) : undefined,
    released,
    close: () => provider.close(),
  };
}

/** The public part of `security.key` (the newest version), to wrap outputs for. */
async function loadPublicKey(
  client: KeyClient,
  vaultUrl: string,
  name: string,
): Promise<{ version: string; publicKey: KeyObject }> {
  const uri = `azurekv://${new URL(vaultUrl).host}/keys/${name}`;
  let jwk: { n?: Uint8Array; e?: Uint8Array } | undefined;
  let version = '';
  try {
    const key = await client.getKey(name);
    jwk = key.key;
    version = key.properties.version ?? '';
  } catch (error) {
    const status = (error as { statusCode?: number }).statusCode;
    throw new SealtrainError(
      status === 404
        ? 'ERR_KMS_KEY_NOT_FOUND'
        : status === 401 || status === 403
          ? 'ERR_BROKER_AUTH'
          : 'ERR_BROKER_REQUEST',
      `Cannot read the public key of ${uri} (security.key): ${(error as Error).message}`,
      { cause: error, details: { uri } },
    );
  }
  if (!jwk?.n || !jwk.e)
    throw new SealtrainError('ERR_KMS_BAD_URI', `${uri} (security.key) is not an RSA key; outputs need one.`);
  const publicKey = createPublicKey({
    key: {
      kty: 'RSA',
      n: Buffer.from(jwk.n).toString('base64url'),
      e: Buffer.from(jwk.e).toString('base64url'),
    },
    format: 'jwk',
  });
  return { version, publicKey };
}
