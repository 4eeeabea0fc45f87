import { mkdir, stat } from 'node:fs/promises';
import { homedir, hostname, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { AuditLog } from '../../audit/index.js';
import { SealtrainError } from '../../errors/index.js';
import { auditedProvider, type KeyProvider, LocalKeyring, readPassphrase } from '../../kms/index.js';

/** Options every command accepts. */
export interface GlobalOptions {
  readonly home?: string;
  readonly json?: boolean;
  readonly passphraseFile?: string;
  readonly passphraseFd?: string;
  readonly actor?: string;
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

/** Parses `--passphrase-fd`. */
function fdOf(opts: GlobalOptions): number | undefined {
  if (opts.passphraseFd === undefined) return undefined;
  const fd = Number(opts.passphraseFd);
  if (!Number.isInteger(fd) || fd < 0) {
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `--passphrase-fd must be a file descriptor number, not "${opts.passphraseFd}".`,
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
  #audit: AuditLog | undefined;
  #keyring: LocalKeyring | undefined;

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

  /** The audit log, created on first use. */
  async audit(): Promise<AuditLog> {
    if (!this.#audit) {
      await mkdir(this.home, { recursive: true, mode: 0o700 });
      this.#audit = await AuditLog.open(this.auditDir);
    }
    return this.#audit;
  }

  /** Audit context for seal operations. */
  async auditContext(): Promise<{ sink: AuditLog; actor: string }> {
    return { sink: await this.audit(), actor: this.actor };
  }

  /** Reads the passphrase from `--passphrase-file`, `--passphrase-fd` or the terminal. */
  async passphrase(confirm = false): Promise<Buffer> {
    const fd = fdOf(this.opts);
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

  /** Key providers for seal operations, each recording its operations in the audit log. */
  async providers(): Promise<KeyProvider[]> {
    return [auditedProvider(await this.localKeyring(), await this.audit(), this.actor)];
  }

  /** Writes the audit head and wipes keys. */
  async close(): Promise<void> {
    this.#keyring?.close();
    await this.#audit?.close();
  }
}
