import { mkdir, readFile, stat } from 'node:fs/promises';
import { homedir, hostname, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { AuditLog } from '../../audit/index.js';
import { fromFsError, SealtrainError } from '../../errors/index.js';
import {
  AzureKeyVaultProvider,
  auditedProvider,
  type DeferredProvider,
  deferredProvider,
  type KeyProvider,
  LOCAL_SCHEME,
  LocalKeyring,
  PKCS11_SCHEME,
  Pkcs11KeyProvider,
  parseAzureKvUri,
  parsePkcs11Uri,
  pkcs11TokenOf,
  readPassphrase,
} from '../../kms/index.js';

const AZUREKV_SCHEME = 'azurekv';

import type { StorageOptions } from '../../seal/index.js';

/** Options every command accepts. */
export interface GlobalOptions {
  readonly home?: string;
  readonly json?: boolean;
  readonly passphraseFile?: string;
  readonly passphraseFd?: string;
  readonly actor?: string;
  readonly pkcs11Module?: string;
  readonly pinFile?: string;
  readonly pinFd?: string;
  readonly storageConnectionFile?: string;
  readonly brokerTokenFile?: string;
  readonly brokerCa?: string;
}

/** Where state lives: `--home`, else `SEALTRAIN_HOME`, else `~/.sealtrain`. */
export function resolveHome(opts: GlobalOptions): string {
  return resolve(opts.home ?? process.env.SEALTRAIN_HOME ?? join(homedir(), '.sealtrain'));
}

/** Who the audit log says acted: `--actor`, else `user@host`. */
function actorOf(opts: GlobalOptions): string {
  if (opts.actor) return opts.actor;
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {}
  return `${user}@${hostname()}`;
}

/** Parses a `--…-fd` option. */
function fdOf(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const fd = Number(value);
  if (!Number.isInteger(fd) || fd < 0) {
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `${flag} must be a file descriptor number, not "${value}".`,
    );
  }
  return fd;
}

/**
 * One command's view of the home folder: the keyring (opened on first use, behind the audit
 * decorator) and the audit log. `close()` writes the audit log's signed head and wipes keys.
 */
export class Session {
  readonly home: string;
  readonly actor: string;
  readonly opts: GlobalOptions;
  #audit: Promise<AuditLog> | undefined;
  #keyring: LocalKeyring | undefined;
  #pkcs11: Pkcs11KeyProvider | undefined;
  #vault: { host: string; provider: AzureKeyVaultProvider } | undefined;
  #providers: KeyProvider[] | undefined;
  readonly #deferredProviders: DeferredProvider[] = [];

  constructor(opts: GlobalOptions) {
    this.opts = opts;
    this.home = resolveHome(opts);
    this.actor = actorOf(opts);
  }

  get keyringDir(): string {
    return join(this.home, 'keyring');
  }

  get auditDir(): string {
    return join(this.home, 'audit');
  }

  /** The audit log, created on first use: callers side by side share the one log. */
  audit(): Promise<AuditLog> {
    if (this.#audit) return this.#audit;
    const opening = (async () => {
      await mkdir(this.home, { recursive: true, mode: 0o700 });
      return AuditLog.open(this.auditDir);
    })();
    this.#audit = opening;
    // A failed open is not kept: a later caller tries again (and gets its own error).
    opening.catch(() => {
      if (this.#audit === opening) this.#audit = undefined;
    });
    return opening;
  }

  /** Audit context for seal operations. */
  async auditContext(): Promise<{ sink: AuditLog; actor: string }> {
    return { sink: await this.audit(), actor: this.actor };
  }

  /** Reads the passphrase from `--passphrase-file`, `--passphrase-fd` or the terminal. */
  async passphrase(confirm = false): Promise<Buffer> {
    const fd = fdOf(this.opts.passphraseFd, '--passphrase-fd');
    return readPassphrase({
      ...(this.opts.passphraseFile !== undefined ? { file: this.opts.passphraseFile } : {}),
      ...(fd !== undefined ? { fd } : {}),
      prompt: `Passphrase for the keyring in ${this.keyringDir}: `,
      confirm,
    });
  }

  /** The raw local keyring (opened once per command). */
  async localKeyring(): Promise<LocalKeyring> {
    if (!this.#keyring) {
      try {
        await stat(join(this.keyringDir, 'keyring.json'));
      } catch {
        throw new SealtrainError(
          'ERR_KMS_KEYRING_NOT_FOUND',
          `No keyring in ${this.keyringDir}: run \`sealtrain keys init --home ${this.home}\` first.`,
          { details: { path: this.keyringDir } },
        );
      }
      const pass = await this.passphrase();
      try {
        this.#keyring = await LocalKeyring.open(this.keyringDir, pass);
      } finally {
        pass.fill(0);
      }
    }
    return this.#keyring;
  }

  /**
   * Key providers for seal operations, one per scheme (`local:`, `pkcs11:`), each recording its
   * operations in the audit log. Each opens on first use, so only the keyring or token a command
   * touches asks for its passphrase or PIN.
   */
  async providers(): Promise<KeyProvider[]> {
    if (this.#providers) return this.#providers;
    const audit = await this.audit();
    this.#providers = [
      auditedProvider(
        this.#deferred(
          LOCAL_SCHEME,
          () => this.localKeyring(),
          (e) => e.code === 'ERR_KMS_KEYRING_NOT_FOUND',
        ),
        audit,
        this.actor,
      ),
      auditedProvider(
        // Unavailable only when no module is configured at all: a bad --pin-fd, two PIN options, an
        // oversized PIN file or a second token stay the usage errors they are.
        this.#deferred(
          PKCS11_SCHEME,
          (uri) => this.#token(uri),
          (e) =>
            e.code === 'ERR_KMS_KEYRING_NOT_FOUND' ||
            (e.code === 'ERR_USAGE_INVALID' && this.opts.pkcs11Module === undefined),
        ),
        audit,
        this.actor,
      ),
      auditedProvider(
        this.#deferred(
          AZUREKV_SCHEME,
          (uri) => this.vault(uri),
          (e) => e.code === 'ERR_USAGE_INVALID',
        ),
        audit,
        this.actor,
      ),
    ];
    return this.#providers;
  }

  /**
   * The provider that holds `key` (`alice`, `local:alice`, or `pkcs11:token=…;object=alice`) and the
   * key name within it; for a `pkcs11:` URI without an object, the name is empty.
   */
  async providerFor(key: string): Promise<{ provider: KeyProvider; name: string }> {
    const audit = await this.audit();
    if (key.startsWith(`${AZUREKV_SCHEME}:`)) {
      const { name } = parseAzureKvUri(key);
      return { provider: auditedProvider(await this.vault(key), audit, this.actor), name };
    }
    if (!key.startsWith(`${PKCS11_SCHEME}:`)) {
      const name = key.startsWith(`${LOCAL_SCHEME}:`) ? key.slice(LOCAL_SCHEME.length + 1) : key;
      return { provider: auditedProvider(await this.localKeyring(), audit, this.actor), name };
    }
    const token = await this.#token(key);
    const name = key.includes('object=') ? parsePkcs11Uri(key).name : '';
    return { provider: auditedProvider(token, audit, this.actor), name };
  }

  #deferred(
    scheme: string,
    open: (uri: string | undefined) => Promise<KeyProvider>,
    unavailable: (error: SealtrainError) => boolean,
  ): KeyProvider {
    const provider = deferredProvider(scheme, open, { unavailable });
    this.#deferredProviders.push(provider);
    return provider;
  }

  /**
   * The Azure Key Vault (or sealtrain broker) an `azurekv:` URI names, one per command: the
   * credential is the principal token in `--broker-token-file`, else Entra ID
   * (`DefaultAzureCredential`); `--broker-ca` is the broker's CA certificate.
   */
  async vault(uri: string | undefined): Promise<AzureKeyVaultProvider> {
    if (uri === undefined)
      throw new SealtrainError(
        'ERR_USAGE_INVALID',
        'Name Key Vault keys by URI: azurekv://<vault>/keys/<name>.',
      );
    const { vaultUrl } = parseAzureKvUri(uri);
    const host = new URL(vaultUrl).host;
    if (this.#vault) {
      if (this.#vault.host === host) return this.#vault.provider;
      throw new SealtrainError(
        'ERR_USAGE_INVALID',
        `One command uses one vault: ${host} was named after ${this.#vault.host}.`,
      );
    }
    const read = async (path: string, what: string) => {
      try {
        return (await readFile(path, 'utf8')).trim();
      } catch (error) {
        throw fromFsError(error, `read the ${what}`, path);
      }
    };
    const file = this.opts.brokerTokenFile;
    const token = file !== undefined ? await read(file, 'broker token file') : undefined;
    const credential =
      token !== undefined
        ? { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) }
        : new (await import('@azure/identity')).DefaultAzureCredential();
    const ca =
      this.opts.brokerCa !== undefined ? await read(this.opts.brokerCa, 'broker CA certificate') : undefined;
    const { Agent } = await import('node:https');
    const agent = new Agent(ca ? { ca } : {});
    const provider = new AzureKeyVaultProvider({
      vaultUrl,
      credential,
      clientOptions: {
        agent,
        disableChallengeResourceVerification: ca !== undefined,
        retryOptions: { maxRetries: 2 },
      },
    });
    this.#vault = { host, provider };
    return provider;
  }

  /** Opens the PKCS#11 token a `pkcs11:` URI names (one token per command), reading its PIN. */
  async #token(uri: string | undefined): Promise<Pkcs11KeyProvider> {
    if (uri === undefined)
      throw new SealtrainError(
        'ERR_USAGE_INVALID',
        'Name PKCS#11 keys by URI: pkcs11:token=<label>;object=<name>.',
      );
    const label = pkcs11TokenOf(uri);
    if (this.#pkcs11) {
      if (this.#pkcs11.tokenLabel === label) return this.#pkcs11;
      throw new SealtrainError(
        'ERR_USAGE_INVALID',
        `One command uses one PKCS#11 token: ${JSON.stringify(label)} was named after ${JSON.stringify(this.#pkcs11.tokenLabel)}.`,
      );
    }
    const module = this.opts.pkcs11Module;
    if (module === undefined)
      throw new SealtrainError(
        'ERR_USAGE_INVALID',
        `${uri} needs --pkcs11-module <path>, the token's PKCS#11 library (e.g. /usr/lib/softhsm/libsofthsm2.so).`,
      );
    const fd = fdOf(this.opts.pinFd, '--pin-fd');
    const pin = await readPassphrase({
      ...(this.opts.pinFile !== undefined ? { file: this.opts.pinFile } : {}),
      ...(fd !== undefined ? { fd } : {}),
      prompt: `User PIN for PKCS#11 token ${JSON.stringify(label)}: `,
      secret: { name: 'PKCS#11 PIN', flag: 'pin' },
    });
    try {
      this.#pkcs11 = await Pkcs11KeyProvider.open({ module, tokenLabel: label, pin });
    } finally {
      pin.fill(0);
    }
    return this.#pkcs11;
  }

  /**
   * How `az://` locations are reached: the connection string in `--storage-connection-file`, else
   * Entra ID through `DefaultAzureCredential` (managed identity, workload identity, Azure CLI).
   */
  async storage(): Promise<StorageOptions> {
    const file = this.opts.storageConnectionFile;
    if (file === undefined) return {};
    let text: string;
    try {
      text = (await readFile(file, 'utf8')).trim();
    } catch (error) {
      throw fromFsError(error, 'read the storage connection file', file);
    }
    if (text === '' || text.includes('\n'))
      throw new SealtrainError(
        'ERR_USAGE_INVALID',
        `${file} must hold one storage connection string on one line.`,
        { details: { path: file } },
      );
    return { connectionString: text };
  }

  /** Writes the audit head and wipes keys. */
  async close(): Promise<void> {
    for (const provider of this.#deferredProviders) await provider.close();
    await this.#pkcs11?.close();
    this.#keyring?.close();
    await (await this.#audit?.catch(() => undefined))?.close();
  }
}
