import { randomBytes } from 'node:crypto';
import { SealtrainError } from '../../errors/index.js';
import type { BrokerStore } from '../state/broker-store.js';
import {
  type BrokerDoc,
  type KeyOp,
  type KeyType,
  own,
  type StoredKeyVersion,
} from '../state/state-model.js';
import { generateMaterial } from './key-material.js';

/** What a create request asks for, already checked for shape. */
export interface CreateKeyRequest {
  readonly kty: KeyType;
  readonly size: number;
  readonly enabled: boolean;
  readonly exportable: boolean;
  readonly keyOps: readonly KeyOp[];
  readonly tags?: Readonly<Record<string, string>>;
  readonly releasePolicy?: { readonly policy: unknown; readonly immutable: boolean };
}

/** What an update request changes; absent members stay as they are. */
export interface UpdateKeyRequest {
  readonly enabled?: boolean;
  readonly keyOps?: readonly KeyOp[];
  readonly tags?: Readonly<Record<string, string>>;
  readonly releasePolicy?: { readonly policy: unknown; readonly immutable: boolean };
}

/** A key's name and its newest version, for listings. */
export interface KeySummary {
  readonly name: string;
  readonly latest: StoredKeyVersion;
}

function badParameter(field: string, message: string): SealtrainError {
  return new SealtrainError('ERR_BROKER_REQUEST', message, { details: { field, reason: 'bad-parameter' } });
}

export function keyNotFound(name: string): SealtrainError {
  return new SealtrainError('ERR_KMS_KEY_NOT_FOUND', `There is no key named "${name}" in the broker.`, {
    details: { key: name },
  });
}

function versionNotFound(name: string, version: string): SealtrainError {
  return new SealtrainError('ERR_KMS_VERSION_NOT_FOUND', `Key "${name}" has no version "${version}".`, {
    details: { key: name, version },
  });
}

/** Key Vault's rule, kept: an exportable key must have a release policy and only one may. */
function checkExportRule(exportable: boolean, hasPolicy: boolean): void {
  if (exportable && !hasPolicy)
    throw badParameter('release_policy', 'Field "release_policy" is required for an exportable key.');
  if (!exportable && hasPolicy)
    throw badParameter(
      'attributes.exportable',
      'Field "release_policy" is allowed only when "attributes.exportable" is true.',
    );
}

/**
 * The key operations on the broker state: every change runs under the state lock and is written
 * atomically before the call resolves. Versions are 32 random hex digits; the last one is current.
 */
export class KeyService {
  readonly #store: BrokerStore;
  readonly #now: () => Date;

  constructor(store: BrokerStore, options: { readonly now?: () => Date } = {}) {
    this.#store = store;
    this.#now = options.now ?? (() => new Date());
  }

  #seconds(): number {
    return Math.floor(this.#now().getTime() / 1000);
  }

  #newVersion(request: CreateKeyRequest): StoredKeyVersion {
    const material = generateMaterial(request.kty, request.size);
    const now = this.#seconds();
    const version: StoredKeyVersion = {
      version: randomBytes(16).toString('hex'),
      kty: request.kty,
      size: request.size,
      material: material.toString('base64'),
      enabled: request.enabled,
      exportable: request.exportable,
      created: now,
      updated: now,
      keyOps: [...request.keyOps],
      ...(request.tags ? { tags: request.tags } : {}),
      ...(request.releasePolicy
        ? {
            releasePolicy: request.releasePolicy.policy,
            releasePolicyImmutable: request.releasePolicy.immutable,
          }
        : {}),
    };
    material.fill(0);
    return version;
  }

  #append(name: string, make: (versions: readonly StoredKeyVersion[]) => StoredKeyVersion) {
    return this.#store.update((doc: BrokerDoc) => {
      const versions = own(doc.keys, name) ?? [];
      const added = make(versions);
      return { doc: { ...doc, keys: { ...doc.keys, [name]: [...versions, added] } }, result: added };
    });
  }

  /** Creates key `name`, or a new version of it when it exists (as Key Vault does). */
  create(name: string, request: CreateKeyRequest): Promise<StoredKeyVersion> {
    checkExportRule(request.exportable, request.releasePolicy !== undefined);
    return this.#append(name, () => this.#newVersion(request));
  }

  /** Adds a version with the current version's type, size, attributes, operations and policy. */
  rotate(name: string): Promise<StoredKeyVersion> {
    return this.#append(name, (versions) => {
      const latest = versions[versions.length - 1];
      if (!latest) throw keyNotFound(name);
      return this.#newVersion({
        kty: latest.kty,
        size: latest.size,
        enabled: true,
        exportable: latest.exportable,
        keyOps: latest.keyOps,
        ...(latest.tags ? { tags: latest.tags } : {}),
        ...(latest.releasePolicy !== undefined
          ? {
              releasePolicy: {
                policy: latest.releasePolicy,
                immutable: latest.releasePolicyImmutable ?? false,
              },
            }
          : {}),
      });
    });
  }

  /** One version, or the current one when `version` is empty or absent. */
  async get(name: string, version?: string): Promise<StoredKeyVersion> {
    return pick(await this.#store.read(), name, version);
  }

  /** Every version of `name`, oldest first. */
  async versions(name: string): Promise<readonly StoredKeyVersion[]> {
    const versions = own((await this.#store.read()).keys, name);
    if (!versions) throw keyNotFound(name);
    return versions;
  }

  /** Every key with its current version, by name. */
  async list(): Promise<KeySummary[]> {
    const doc = await this.#store.read();
    return Object.keys(doc.keys)
      .sort()
      .flatMap((name) => {
        const versions = own(doc.keys, name) ?? [];
        const latest = versions[versions.length - 1];
        return latest ? [{ name, latest }] : [];
      });
  }

  /** Changes attributes, operations, tags or the release policy of one version (default current). */
  update(name: string, version: string | undefined, change: UpdateKeyRequest): Promise<StoredKeyVersion> {
    return this.#store.update((doc) => {
      const current = pick(doc, name, version);
      if (change.releasePolicy !== undefined) {
        if (current.releasePolicyImmutable)
          throw badParameter('release_policy', `The release policy of key "${name}" is immutable.`);
        checkExportRule(current.exportable, true);
      }
      const next: StoredKeyVersion = {
        ...current,
        ...(change.enabled === undefined ? {} : { enabled: change.enabled }),
        ...(change.keyOps === undefined ? {} : { keyOps: [...change.keyOps] }),
        ...(change.tags === undefined ? {} : { tags: change.tags }),
        ...(change.releasePolicy === undefined
          ? {}
          : {
              releasePolicy: change.releasePolicy.policy,
              releasePolicyImmutable: change.releasePolicy.immutable,
            }),
        updated: this.#seconds(),
      };
      const versions = (own(doc.keys, name) ?? []).map((v) => (v.version === current.version ? next : v));
      return { doc: { ...doc, keys: { ...doc.keys, [name]: versions } }, result: next };
    });
  }
}

/** A version of `name` in `doc`, the current one when `version` is empty. */
export function pick(doc: BrokerDoc, name: string, version?: string): StoredKeyVersion {
  const versions = own(doc.keys, name);
  if (!versions) throw keyNotFound(name);
  const found = version ? versions.find((v) => v.version === version) : versions[versions.length - 1];
  if (!found) throw versionNotFound(name, version ?? '');
  return found;
}

/** Throws `ERR_KMS_KEY_DISABLED` when `version` is disabled, or when it does not allow `op`. */
export function assertUsable(name: string, version: StoredKeyVersion, op?: KeyOp): void {
  if (!version.enabled) {
    throw new SealtrainError(
      'ERR_KMS_KEY_DISABLED',
      `Key "${name}" version ${version.version} is disabled.`,
      {
        details: { key: name, version: version.version },
      },
    );
  }
  if (op !== undefined && !version.keyOps.includes(op)) {
    throw new SealtrainError(
      'ERR_BROKER_AUTH',
      `Key "${name}" version ${version.version} does not allow ${op} (its key_ops are ${version.keyOps.join(', ') || 'empty'}).`,
      { details: { key: name, version: version.version, reason: 'operation-not-allowed' } },
    );
  }
}
