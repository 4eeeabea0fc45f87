import { SealtrainError } from '../../errors/index.js';
import type { ArtifactMetadata } from '../artifact-store.js';

/** Longest artifact path accepted (Azure's blob name limit). */
export const MAX_PATH_LENGTH = 1024;

function invalid(message: string, path: string): SealtrainError {
  return new SealtrainError('ERR_USAGE_INVALID', message, { details: { path } });
}

/**
 * Checks an artifact path: relative, `/`-separated, no empty, `.` or `..` segment, no NUL or
 * backslash. With `noDotSegments`, a segment may not start with `.` either (the local store keeps
 * its temp and metadata files under such names).
 */
export function checkStorePath(path: string, options: { noDotSegments?: boolean } = {}): string {
  if (typeof path !== 'string' || path.length === 0)
    throw invalid('The artifact path is empty.', String(path));
  if (path.length > MAX_PATH_LENGTH)
    throw invalid(`The artifact path is longer than ${MAX_PATH_LENGTH} characters.`, path.slice(0, 64));
  const shown = JSON.stringify(path);
  if (path.includes('\0')) throw invalid(`The artifact path ${shown} contains a NUL character.`, path);
  if (path.includes('\\')) throw invalid(`The artifact path ${shown} contains a backslash.`, path);
  if (path.startsWith('/'))
    throw invalid(`The artifact path ${shown} is absolute; give a relative one.`, path);
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.' || segment === '..')
      throw invalid(`The artifact path ${shown} has an empty, "." or ".." segment.`, path);
    if (options.noDotSegments && segment.startsWith('.'))
      throw invalid(
        `The artifact path ${shown} has a segment starting with "."; such names are reserved.`,
        path,
      );
  }
  return path;
}

/** Checks a list prefix: empty, or a path prefix under the same rules as {@link checkStorePath}. */
export function checkStorePrefix(prefix: string): string {
  if (prefix === '') return prefix;
  checkStorePath(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
  return prefix;
}

const KEY = /^[a-z][a-z0-9_]{0,63}$/;
const VALUE = /^[\x20-\x7e]{0,1024}$/;

/** Checks metadata: lower-case identifier keys, printable ASCII values (what Azure accepts). */
export function checkMetadata(metadata: ArtifactMetadata | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata ?? {})) {
    if (!KEY.test(key))
      throw new SealtrainError(
        'ERR_USAGE_INVALID',
        `Metadata key ${JSON.stringify(key)} is invalid: use a lower-case letter then letters, digits or "_".`,
        { details: { field: 'metadata' } },
      );
    if (typeof value !== 'string' || !VALUE.test(value))
      throw new SealtrainError(
        'ERR_USAGE_INVALID',
        `Metadata value for ${key} is invalid: use up to 1024 printable ASCII characters.`,
        { details: { field: `metadata.${key}` } },
      );
    out[key] = value;
  }
  return out;
}

/** Checks a byte range's numbers. */
export function checkRange(offset: number, length: number, where: string): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0)
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `Range ${offset}+${length} of ${where} is invalid: give non-negative integers.`,
      { details: { path: where } },
    );
}

/** The error for a range that passes the end of an artifact. */
export function rangeOutside(offset: number, length: number, where: string): SealtrainError {
  return new SealtrainError('ERR_USAGE_INVALID', `Range ${offset}+${length} is outside ${where}.`, {
    details: { path: where },
  });
}
