import { generateKeyPairSync } from 'node:crypto';
import { mkdir, open, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fromFsError, hasSystemCode, SealtrainError } from '../../errors/index.js';
import { type FileLockOptions, fileStamp, withFileLock, writeFileAtomic } from '../../store/index.js';
import {
  deriveMasterKey,
  MAX_STATE_BYTES,
  newKdf,
  openState,
  parseEnvelope,
  type StateKdf,
  sealState,
} from './state-file.js';
import type { BrokerDoc } from './state-model.js';

/** File names inside the broker's state folder. */
export const STATE_FILE = 'state.json';
export const STATE_LOCK = 'state.lock';

/** Options for {@link BrokerStore.open}. */
export interface BrokerStoreOptions {
  /** scrypt cost N for a new state (a power of two, 2^10 … 2^20); default 2^17. */
  readonly scryptCost?: number;
  /** Refuse to create a state that does not exist yet. */
  readonly mustExist?: boolean;
}

const LOCK: FileLockOptions = {
  timeoutMs: 10_000,
  onTimeout: (path, pid) =>
    new SealtrainError(
      'ERR_BROKER_STATE',
      `The broker state lock ${path} has been held by ${pid === undefined ? 'another process' : `process ${pid}`} for more than 10 s.`,
      { details: { path } },
    ),
};

interface Loaded {
  readonly doc: BrokerDoc;
  readonly kdf: StateKdf;
  readonly generation: number;
  readonly stamp: string;
}

async function readText(path: string): Promise<{ text: string; stamp: string } | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (hasSystemCode(error, 'ENOENT')) return undefined;
    throw fromFsError(error, 'read the broker state', path);
  }
  try {
    const s = await handle.stat({ bigint: true });
    if (s.size > BigInt(MAX_STATE_BYTES)) {
      throw new SealtrainError('ERR_BROKER_STATE', `The broker state ${path} is larger than 64 MiB.`, {
        details: { path },
      });
    }
    return { text: await handle.readFile('utf8'), stamp: `${s.ino}:${s.size}:${s.mtimeNs}` };
  } finally {
    await handle.close();
  }
}

function emptyDoc(): BrokerDoc {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const der = privateKey.export({ type: 'pkcs8', format: 'der' });
  const signingKey = der.toString('base64');
  der.fill(0);
  return { keys: {}, principals: {}, signingKey };
}

/**
 * The broker's state: one file, `state.json`, holding every key version, policy, principal and the
 * token-signing key, sealed with AES-256-GCM under a master key derived with scrypt from the
 * broker passphrase. Every change is made under the lock file `state.lock` and written atomically
 * (temp file, fsync, rename), so a crash or `kill -9` leaves either the old state or the new one.
 * Changes made by another process (the `broker principal` commands) are picked up on the next read.
 */
export class BrokerStore {
  readonly dir: string;
  readonly #path: string;
  readonly #lock: string;
  readonly #key: Buffer;
  #loaded: Loaded;

  private constructor(dir: string, key: Buffer, loaded: Loaded) {
    this.dir = dir;
    this.#path = join(dir, STATE_FILE);
    this.#lock = join(dir, STATE_LOCK);
    this.#key = key;
    this.#loaded = loaded;
  }

  /**
   * Opens the state in `dir` with `passphrase` (not kept; the caller wipes it), creating it when
   * missing unless `mustExist`.
   *
   * @throws {SealtrainError} `ERR_BROKER_STATE` for a wrong passphrase, a modified or malformed file,
   *   or a missing one with `mustExist`; `ERR_IO_*` naming files.
   */
  static async open(
    dir: string,
    passphrase: Uint8Array,
    options: BrokerStoreOptions = {},
  ): Promise<BrokerStore> {
    await mkdir(dir, { recursive: true, mode: 0o700 }).catch((error: unknown) => {
      throw fromFsError(error, 'create the broker state folder', dir);
    });
    const path = join(dir, STATE_FILE);
    return withFileLock(
      join(dir, STATE_LOCK),
      async () => {
        await removeLeftoverTemps(dir);
        const found = await readText(path);
        if (found === undefined) {
          if (options.mustExist) {
            throw new SealtrainError(
              'ERR_BROKER_STATE',
              `There is no broker state in ${dir}: start the broker once to create it.`,
              {
                details: { path },
              },
            );
          }
          const kdf = newKdf(options.scryptCost);
          const key = await deriveMasterKey(passphrase, kdf);
          const doc = emptyDoc();
          await writeFileAtomic(path, sealState(doc, key, { kdf, generation: 1 }), { mode: 0o600 });
          return new BrokerStore(dir, key, { doc, kdf, generation: 1, stamp: (await fileStamp(path)) ?? '' });
        }
        const envelope = parseEnvelope(path, found.text);
        const key = await deriveMasterKey(passphrase, envelope.kdf);
        try {
          const doc = openState(path, envelope, key);
          return new BrokerStore(dir, key, {
            doc,
            kdf: envelope.kdf,
            generation: envelope.generation,
            stamp: found.stamp,
          });
        } catch (error) {
          key.fill(0);
          throw error;
        }
      },
      LOCK,
    );
  }

  /** The current state, re-read when another process changed the file. */
  async read(): Promise<BrokerDoc> {
    const stamp = await fileStamp(this.#path);
    if (stamp !== this.#loaded.stamp) await this.#reload();
    return this.#loaded.doc;
  }

  /**
   * Applies `change` to the newest state under the lock and writes the result atomically. `change`
   * returns the new document and a result, or throws to leave the state as it was.
   */
  update<T>(change: (doc: BrokerDoc) => { doc: BrokerDoc; result: T }): Promise<T> {
    return withFileLock(
      this.#lock,
      async () => {
        await this.read();
        const { doc, result } = change(this.#loaded.doc);
        const generation = this.#loaded.generation + 1;
        const text = sealState(doc, this.#key, { kdf: this.#loaded.kdf, generation });
        await writeFileAtomic(this.#path, text, { overwrite: true, mode: 0o600 });
        this.#loaded = { doc, kdf: this.#loaded.kdf, generation, stamp: (await fileStamp(this.#path)) ?? '' };
        return result;
      },
      LOCK,
    );
  }

  /** Wipes the master key; the store cannot be used afterwards. */
  close(): void {
    this.#key.fill(0);
  }

  async #reload(): Promise<void> {
    const found = await readText(this.#path);
    if (found === undefined) {
      throw new SealtrainError('ERR_BROKER_STATE', `The broker state ${this.#path} disappeared.`, {
        details: { path: this.#path },
      });
    }
    const envelope = parseEnvelope(this.#path, found.text);
    if (JSON.stringify(envelope.kdf) !== JSON.stringify(this.#loaded.kdf)) {
      throw new SealtrainError(
        'ERR_BROKER_STATE',
        `The broker state ${this.#path} was replaced by another one.`,
        {
          details: { path: this.#path },
        },
      );
    }
    const doc = openState(this.#path, envelope, this.#key);
    if (envelope.generation < this.#loaded.generation) {
      throw new SealtrainError(
        'ERR_BROKER_STATE',
        `The broker state ${this.#path} went back from generation ${this.#loaded.generation} to ${envelope.generation} (an older copy was put back); restart the broker to accept it on purpose.`,
        { details: { path: this.#path, loaded: this.#loaded.generation, found: envelope.generation } },
      );
    }
    this.#loaded = { doc, kdf: envelope.kdf, generation: envelope.generation, stamp: found.stamp };
  }
}

/** Removes temp files left by writers killed mid-write. Called only holding the lock. */
async function removeLeftoverTemps(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const prefix = `.${STATE_FILE}.`;
  for (const name of names) {
    if (name.startsWith(prefix) && name.endsWith('.tmp')) await unlink(join(dir, name)).catch(() => {});
  }
}
