import { SealtrainError } from '../../errors/index.js';

/** `ERR_KMS_KEY_NOT_FOUND` for key `uri`. */
export function keyNotFound(uri: string): SealtrainError {
  return new SealtrainError(
    'ERR_KMS_KEY_NOT_FOUND',
    `Key ${uri} does not exist; run \`sealtrain keys list\` to see the keys.`,
    { details: { uri } },
  );
}

/** `ERR_KMS_VERSION_NOT_FOUND` for `version` of key `uri` named `name`. */
export function versionNotFound(uri: string, name: string, version: string): SealtrainError {
  return new SealtrainError(
    'ERR_KMS_VERSION_NOT_FOUND',
    `Key ${uri} has no version ${version}; run \`sealtrain keys list ${name}\` to see its versions.`,
    { details: { uri, version } },
  );
}

/** `ERR_KMS_KEY_DISABLED` for `version` of key `uri`. */
export function keyDisabled(uri: string, version: string): SealtrainError {
  return new SealtrainError(
    'ERR_KMS_KEY_DISABLED',
    `Key ${uri} version ${version} is disabled: it no longer wraps or unwraps.`,
    { details: { uri, version } },
  );
}

/** `ERR_KMS_KEY_DISABLED` when no version of key `uri` is enabled. */
export function allVersionsDisabled(uri: string, name: string): SealtrainError {
  return new SealtrainError(
    'ERR_KMS_KEY_DISABLED',
    `Every version of key ${uri} is disabled; run \`sealtrain keys rotate ${name}\` to add a new one.`,
    { details: { uri } },
  );
}

/** `ERR_KMS_UNWRAP_FAILED`: generic on purpose, it names only the key and version. */
export function unwrapFailed(uri: string, version: string): SealtrainError {
  return new SealtrainError(
    'ERR_KMS_UNWRAP_FAILED',
    `Cannot unwrap the data key with ${uri} version ${version}: the key does not match.`,
    { details: { uri, version } },
  );
}

/** `ERR_KMS_KEYRING_CORRUPT` naming the file and the field. */
export function keyringCorrupt(path: string, field: string, problem: string): SealtrainError {
  return new SealtrainError(
    'ERR_KMS_KEYRING_CORRUPT',
    `The keyring file ${path} is corrupt: field ${field} ${problem}.`,
    { details: { path, field } },
  );
}

/** `ERR_KMS_WRONG_PASSPHRASE`: a wrong passphrase and a modified file look the same. */
export function wrongPassphrase(path: string): SealtrainError {
  return new SealtrainError(
    'ERR_KMS_WRONG_PASSPHRASE',
    `Cannot open the keyring ${path}: wrong passphrase, or the keyring file was modified.`,
    { details: { path } },
  );
}

/** `ERR_KMS_KEYRING_NOT_FOUND` naming the file. */
export function keyringNotFound(path: string): SealtrainError {
  return new SealtrainError(
    'ERR_KMS_KEYRING_NOT_FOUND',
    `No keyring at ${path}: run \`sealtrain keys init\` to create one.`,
    { details: { path } },
  );
}

/** `ERR_KMS_KEYRING_EXISTS` naming the file. */
export function keyringExists(path: string): SealtrainError {
  return new SealtrainError(
    'ERR_KMS_KEYRING_EXISTS',
    `A keyring already exists at ${path}; it was left alone.`,
    {
      details: { path },
    },
  );
}

/** `ERR_KMS_PASSPHRASE_REQUIRED` for an empty passphrase. */
export function emptyPassphrase(): SealtrainError {
  return new SealtrainError(
    'ERR_KMS_PASSPHRASE_REQUIRED',
    'The keyring passphrase is empty; give a non-empty one.',
  );
}

/** `ERR_KMS_KEY_EXISTS` for key `uri`. */
export function keyExists(uri: string): SealtrainError {
  return new SealtrainError('ERR_KMS_KEY_EXISTS', `Key ${uri} already exists; it was left alone.`, {
    details: { uri },
  });
}

/** `ERR_KMS_BAD_URI` for a wrapped key whose URI carries a version. */
export function versionInWrappedUri(uri: string): SealtrainError {
  return new SealtrainError(
    'ERR_KMS_BAD_URI',
    `Wrapped key URI ${JSON.stringify(uri)} names a version; the version goes in its own field.`,
    { details: { uri } },
  );
}
