import type { TokenCredential } from '@azure/core-auth';
import type {
  CryptographyClient,
  CryptographyClientOptions,
  KeyClient,
  KeyClientOptions,
  KeyProperties,
} from '@azure/keyvault-keys';
import { SealtrainError } from '../errors/index.js';
import type { KeyProvider, KeyVersionInfo, WrappedKey } from './key-provider.js';

/** The algorithm `azurekv:` wraps data keys with: RSA-OAEP with SHA-256, done inside the vault. */
export const AZUREKV_WRAP_ALG = 'RSA-OAEP-256';

/** Options for {@link AzureKeyVaultProvider}. */
export interface AzureKeyVaultProviderOptions {
  /** The vault, e.g. `https://secure-training-kv.vault.azure.net` or the local broker's URL. */
  readonly vaultUrl: string;
  /** How to get tokens: `DefaultAzureCredential` in Azure, a broker principal's token locally. */
  readonly credential: TokenCredential;
  /** SDK options (TLS agent for the broker's CA, retries, `disableChallengeResourceVerification`). */
  readonly clientOptions?: KeyClientOptions & CryptographyClientOptions;
  /** Key size for new keys; default 3072. */
  readonly keySize?: 2048 | 3072 | 4096;
}

/**
 * Parses `azurekv://<vault>/keys/<name>[/<version>]`. `<vault>` is a vault name
 * (`https://<vault>.vault.azure.net`) or a host with a dot or port (`https://<host>`).
 */
export function parseAzureKvUri(uri: string): { vaultUrl: string; name: string; version?: string } {
  const m = /^azurekv:\/\/([A-Za-z0-9.-]+(?::\d+)?)\/keys\/([A-Za-z0-9-]{1,127})(?:\/([A-Za-z0-9]+))?$/.exec(
    uri,
  );
  if (!m)
    throw new SealtrainError(
      'ERR_KMS_BAD_URI',
      `Key URI ${JSON.stringify(uri)} is not azurekv://<vault>/keys/<name>[/<version>].`,
      {
        details: { uri },
      },
    );
  const vault = m[1] ?? '';
  const vaultUrl =
    vault.includes('.') || vault.includes(':') ? `https://${vault}` : `https://${vault}.vault.azure.net`;
  return { vaultUrl, name: m[2] ?? '', ...(m[3] ? { version: m[3] } : {}) };
}

function statusOf(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null
    ? (error as { statusCode?: number }).statusCode
    : undefined;
}

/** Maps an SDK error to a coded error that names the key, never the key material. */
function mapError(error: unknown, action: string, uri: string): SealtrainError {
  if (error instanceof SealtrainError) return error;
  const status = statusOf(error);
  const message = error instanceof Error ? error.message : String(error);
  const details = { uri, ...(status === undefined ? {} : { status }) };
  if (status === 404)
    return new SealtrainError(
      'ERR_KMS_KEY_NOT_FOUND',
      `Cannot ${action} ${uri}: the vault has no such key or version.`,
      { cause: error, details },
    );
  if (status === 401 || status === 403)
    return /disabled/i.test(message)
      ? new SealtrainError('ERR_KMS_KEY_DISABLED', `Cannot ${action} ${uri}: the key version is disabled.`, {
          cause: error,
          details,
        })
      : new SealtrainError(
          'ERR_BROKER_AUTH',
          `Cannot ${action} ${uri}: the vault refused the credential (${status}).`,
          { cause: error, details },
        );
  if (status === 409)
    return new SealtrainError('ERR_KMS_KEY_EXISTS', `Cannot ${action} ${uri}: the key exists.`, {
      cause: error,
      details,
    });
  if (status === 400 && action === 'unwrap with')
    return new SealtrainError(
      'ERR_KMS_UNWRAP_FAILED',
      `Cannot unwrap with ${uri}: the key does not unwrap this data key.`,
      { cause: error, details },
    );
  return new SealtrainError('ERR_BROKER_REQUEST', `Cannot ${action} ${uri}: ${message}`, {
    cause: error,
    details,
  });
}

/**
 * `azurekv:` keys in Azure Key Vault (or Managed HSM, or sealtrain's broker, which speaks the same
 * API) through the Azure SDK. Guarantee: the KEK never leaves the vault; wrap and unwrap happen there
 * (RSA-OAEP-256). One provider serves one vault.
 */
export class AzureKeyVaultProvider implements KeyProvider {
  readonly scheme = 'azurekv';
  readonly #options: AzureKeyVaultProviderOptions;
  #client: Promise<KeyClient> | undefined;
  readonly #host: string;

  constructor(options: AzureKeyVaultProviderOptions) {
    this.#options = options;
    this.#host = new URL(options.vaultUrl).host;
  }

  /** The SDK loads on first use, so commands that never touch a vault start fast. */
  #keys(): Promise<KeyClient> {
    const { vaultUrl, credential, clientOptions } = this.#options;
    this.#client ??= import('@azure/keyvault-keys').then(
      (sdk) => new sdk.KeyClient(vaultUrl, credential, clientOptions),
    );
    return this.#client;
  }

  #uri(name: string): string {
    return `azurekv://${this.#host}/keys/${name}`;
  }

  #info(p: KeyProperties): KeyVersionInfo {
    return {
      uri: this.#uri(p.name),
      name: p.name,
      version: p.version ?? '',
      created: (p.createdOn ?? new Date(0)).toISOString(),
      enabled: p.enabled !== false,
    };
  }

  #target(uri: string): { name: string; version?: string } {
    const parsed = parseAzureKvUri(uri);
    if (new URL(parsed.vaultUrl).host !== this.#host)
      throw new SealtrainError('ERR_KMS_BAD_URI', `Key URI ${uri} names another vault than ${this.#host}.`, {
        details: { uri },
      });
    return parsed;
  }

  async create(name: string): Promise<KeyVersionInfo> {
    const uri = this.#uri(name);
    try {
      const existing = await (await this.#keys())
        .getKey(name)
        .catch((e: unknown) => (statusOf(e) === 404 ? undefined : Promise.reject(e)));
      if (existing)
        throw new SealtrainError('ERR_KMS_KEY_EXISTS', `Key ${uri} exists.`, { details: { uri } });
      const key = await (await this.#keys()).createRsaKey(name, {
        keySize: this.#options.keySize ?? 3072,
        keyOps: ['wrapKey', 'unwrapKey'],
      });
      return this.#info(key.properties);
    } catch (error) {
      throw mapError(error, 'create', uri);
    }
  }

  /**
   * Creates an exportable RSA key with a release policy (Secure Key Release): the vault wraps data
   * keys with it as with any key, and releases it only to a workload whose attestation token
   * satisfies `policy` (Key Vault's release-policy JSON). An existing name gets a new version.
   */
  async createExportable(name: string, policy: Uint8Array): Promise<KeyVersionInfo> {
    const uri = this.#uri(name);
    try {
      const key = await (await this.#keys()).createRsaKey(name, {
        keySize: this.#options.keySize ?? 3072,
        keyOps: ['wrapKey', 'unwrapKey'],
        exportable: true,
        releasePolicy: { encodedPolicy: policy },
      });
      return this.#info(key.properties);
    } catch (error) {
      throw mapError(error, 'create', uri);
    }
  }

  async rotate(name: string): Promise<KeyVersionInfo> {
    try {
      return this.#info((await (await this.#keys()).rotateKey(name)).properties);
    } catch (error) {
      throw mapError(error, 'rotate', this.#uri(name));
    }
  }

  async listVersions(name: string): Promise<KeyVersionInfo[]> {
    try {
      const out: KeyVersionInfo[] = [];
      for await (const p of (await this.#keys()).listPropertiesOfKeyVersions(name)) out.push(this.#info(p));
      if (out.length === 0)
        throw new SealtrainError('ERR_KMS_KEY_NOT_FOUND', `Key ${this.#uri(name)} does not exist.`);
      return out.sort((a, b) => a.created.localeCompare(b.created));
    } catch (error) {
      throw mapError(error, 'list the versions of', this.#uri(name));
    }
  }

  async list(): Promise<KeyVersionInfo[]> {
    try {
      const out: KeyVersionInfo[] = [];
      for await (const p of (await this.#keys()).listPropertiesOfKeys())
        out.push(this.#info((await (await this.#keys()).getKey(p.name)).properties));
      return out;
    } catch (error) {
      throw mapError(error, 'list the keys of', `azurekv://${this.#host}`);
    }
  }

  async disableVersion(name: string, version: string): Promise<KeyVersionInfo> {
    try {
      return this.#info(
        (await (await this.#keys()).updateKeyProperties(name, version, { enabled: false })).properties,
      );
    } catch (error) {
      throw mapError(error, 'disable', `${this.#uri(name)}/${version}`);
    }
  }

  async #crypto(name: string, version: string): Promise<CryptographyClient> {
    const id = `${this.#options.vaultUrl.replace(/\/$/, '')}/keys/${name}/${version}`;
    const sdk = await import('@azure/keyvault-keys');
    return new sdk.CryptographyClient(id, this.#options.credential, this.#options.clientOptions);
  }

  async wrap(uri: string, dek: Uint8Array): Promise<WrappedKey> {
    const target = this.#target(uri);
    try {
      const version =
        target.version ?? (await (await this.#keys()).getKey(target.name)).properties.version ?? '';
      const result = await (await this.#crypto(target.name, version)).wrapKey(AZUREKV_WRAP_ALG, dek);
      return { uri: this.#uri(target.name), version, alg: AZUREKV_WRAP_ALG, wrapped: result.result };
    } catch (error) {
      throw mapError(error, 'wrap with', uri);
    }
  }

  async unwrap(wrapped: WrappedKey): Promise<Uint8Array> {
    const target = this.#target(wrapped.uri);
    const uri = `${wrapped.uri}/${wrapped.version}`;
    if (wrapped.alg !== AZUREKV_WRAP_ALG)
      throw new SealtrainError(
        'ERR_KMS_UNWRAP_FAILED',
        `Cannot unwrap with ${uri}: algorithm ${wrapped.alg} is not ${AZUREKV_WRAP_ALG}.`,
        { details: { uri } },
      );
    try {
      const result = await (await this.#crypto(target.name, wrapped.version)).unwrapKey(
        AZUREKV_WRAP_ALG,
        wrapped.wrapped,
      );
      return Buffer.from(result.result);
    } catch (error) {
      throw mapError(error, 'unwrap with', uri);
    }
  }
}
