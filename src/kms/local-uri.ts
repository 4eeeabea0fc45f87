import { SealtrainError } from '../errors/index.js';

/** The URI scheme of {@link LocalKeyring}, without the colon. */
export const LOCAL_SCHEME = 'local';

const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const VERSION = /^[1-9][0-9]{0,8}$/;

/** A parsed `local:` key URI. */
export interface LocalKeyRef {
  /** The key's name, e.g. `alice`. */
  readonly name: string;
  /** The version when the URI names one (`local:alice/2`); absent for "newest enabled". */
  readonly version?: string;
}

/** Throws `ERR_KMS_BAD_URI` naming `name` unless it matches `[a-z0-9][a-z0-9._-]{0,63}`. */
export function assertKeyName(name: string): void {
  if (!NAME.test(name)) {
    throw new SealtrainError(
      'ERR_KMS_BAD_URI',
      `Key name ${JSON.stringify(name)} is not valid: use 1 to 64 of a-z, 0-9, ".", "_", "-", starting with a letter or digit.`,
      { details: { name } },
    );
  }
}

/** Throws `ERR_KMS_BAD_URI` naming `version` unless it is a positive integer (`1`, `2`, …). */
export function assertKeyVersion(version: string): void {
  if (!VERSION.test(version)) {
    throw new SealtrainError(
      'ERR_KMS_BAD_URI',
      `Key version ${JSON.stringify(version)} is not valid: use a positive integer such as 1 or 2.`,
      { details: { version } },
    );
  }
}

/**
 * Parses `local:<name>` (the newest enabled version) or `local:<name>/<version>`.
 * Throws `ERR_KMS_BAD_URI` naming the value for another scheme, a bad name or a bad version.
 */
export function parseLocalUri(uri: string): LocalKeyRef {
  const prefix = `${LOCAL_SCHEME}:`;
  if (!uri.startsWith(prefix)) {
    throw new SealtrainError(
      'ERR_KMS_BAD_URI',
      `Key URI ${JSON.stringify(uri)} is not a local key: use local:<name> or local:<name>/<version>.`,
      { details: { uri } },
    );
  }
  const rest = uri.slice(prefix.length);
  const slash = rest.indexOf('/');
  const name = slash === -1 ? rest : rest.slice(0, slash);
  if (!NAME.test(name)) {
    throw new SealtrainError(
      'ERR_KMS_BAD_URI',
      `Key URI ${JSON.stringify(uri)} has an invalid key name: use 1 to 64 of a-z, 0-9, ".", "_", "-".`,
      { details: { uri } },
    );
  }
  if (slash === -1) return { name };
  const version = rest.slice(slash + 1);
  if (!VERSION.test(version)) {
    throw new SealtrainError(
      'ERR_KMS_BAD_URI',
      `Key URI ${JSON.stringify(uri)} has an invalid version: use a positive integer, as in local:${name}/2.`,
      { details: { uri } },
    );
  }
  return { name, version };
}

/** `local:<name>`, the URI of a key without a version. */
export function localUri(name: string): string {
  return `${LOCAL_SCHEME}:${name}`;
}
