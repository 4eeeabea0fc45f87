import { constants, type KeyObject, privateDecrypt, publicEncrypt } from 'node:crypto';
import { SealtrainError } from '../errors/index.js';
import { AZUREKV_WRAP_ALG, parseAzureKvUri } from './azurekv-provider.js';
import type { KeyProvider, KeyVersionInfo, WrappedKey } from './key-provider.js';

const OAEP = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' } as const;

/** `azurekv://host/keys/name` for any spelling of the same key. */
function keyOf(uri: string): { base: string; name: string; version?: string } {
  const { vaultUrl, name, version } = parseAzureKvUri(uri);
  return { base: `azurekv://${new URL(vaultUrl).host}/keys/${name}`, name, ...(version ? { version } : {}) };
}

function unsupported(what: string): never {
  throw new SealtrainError(
    'ERR_USAGE_INVALID',
    `A released key cannot ${what}: manage keys in the vault (sealtrain keys …, or the Azure portal).`,
  );
}

/**
 * `azurekv:` keys held in this process after Secure Key Release: unwrap with a released RSA
 * private key, and wrap with a vault key's public part, both locally (RSA-OAEP-256, the same bytes
 * the vault's own wrapKey and unwrapKey use). Guarantee: it opens only data keys wrapped for a
 * key version it was given, fails with `ERR_KMS_UNWRAP_FAILED` and says nothing more otherwise,
 * and forgets every key on {@link ReleasedKeyProvider.close}. It cannot create, rotate or disable.
 */
export class ReleasedKeyProvider implements KeyProvider {
  readonly scheme = 'azurekv';
  readonly #private = new Map<string, KeyObject>();
  readonly #public = new Map<string, { version: string; key: KeyObject }>();

  /** Adds a released private key: `uri` is `azurekv://host/keys/name`, with its version. */
  addReleased(uri: string, version: string, privateKey: KeyObject): void {
    if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'rsa')
      throw new SealtrainError(
        'ERR_KMS_UNWRAP_FAILED',
        `The key released for ${uri} is not an RSA private key.`,
      );
    this.#private.set(`${keyOf(uri).base}/${version}`, privateKey);
  }

  /** Adds a public key to wrap for: new data keys for `uri` are wrapped under this version. */
  addPublic(uri: string, version: string, publicKey: KeyObject): void {
    if (publicKey.asymmetricKeyType !== 'rsa')
      throw new SealtrainError('ERR_KMS_BAD_URI', `The key ${uri} is not an RSA key; outputs need one.`);
    this.#public.set(keyOf(uri).base, { version, key: publicKey });
  }

  /** Whether a released key version is held. */
  holds(uri: string, version: string): boolean {
    return this.#private.has(`${keyOf(uri).base}/${version}`);
  }

  async wrap(uri: string, dek: Uint8Array): Promise<WrappedKey> {
    const { base, version } = keyOf(uri);
    const target = this.#public.get(base);
    if (!target || (version !== undefined && version !== target.version))
      throw new SealtrainError('ERR_KMS_KEY_NOT_FOUND', `No public key of ${uri} is loaded to wrap for.`, {
        details: { uri },
      });
    const wrapped = publicEncrypt({ key: target.key, ...OAEP }, dek);
    return { uri: base, version: target.version, alg: AZUREKV_WRAP_ALG, wrapped };
  }

  async unwrap(wrapped: WrappedKey): Promise<Uint8Array> {
    const key = this.#private.get(`${keyOf(wrapped.uri).base}/${wrapped.version}`);
    const uri = `${wrapped.uri}/${wrapped.version}`;
    const failed = () =>
      new SealtrainError('ERR_KMS_UNWRAP_FAILED', `Cannot unwrap with ${uri}.`, { details: { uri } });
    if (!key || wrapped.alg !== AZUREKV_WRAP_ALG) throw failed();
    try {
      return privateDecrypt({ key, ...OAEP }, wrapped.wrapped);
    } catch {
      throw failed();
    }
  }

  /** Drops every key it holds. */
  close(): void {
    this.#private.clear();
    this.#public.clear();
  }

  async create(): Promise<KeyVersionInfo> {
    return unsupported('be created here');
  }
  async rotate(): Promise<KeyVersionInfo> {
    return unsupported('be rotated here');
  }
  async listVersions(): Promise<KeyVersionInfo[]> {
    return unsupported('list versions');
  }
  async list(): Promise<KeyVersionInfo[]> {
    return unsupported('list keys');
  }
  async disableVersion(): Promise<KeyVersionInfo> {
    return unsupported('be disabled here');
  }
}
