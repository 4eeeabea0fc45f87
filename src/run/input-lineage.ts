import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { keyIdOf, readPublicKey } from '../audit/index.js';
import {
  type LineageManifest,
  type LineageOutput,
  manifestSignatureValid,
  readLineageManifest,
} from '../data/lineage.js';
import { fromFsError, SealtrainError } from '../errors/index.js';
import type { LoadedSplit, RunInputs } from './load-inputs.js';

/** A lineage manifest whose signature holds under the key the run config pins (`data.lineage_key`). */
export interface TrustedLineage {
  /** Where the manifest is. */
  readonly path: string;
  /** The signing key's id (SHA-256 of its SPKI): the data owner's. */
  readonly keyId: string;
  readonly manifest: LineageManifest;
}

function invalid(message: string, details: Record<string, string | readonly string[]>): SealtrainError {
  return new SealtrainError('ERR_LINEAGE_INVALID', message, { details });
}

/**
 * Reads the prepare folder's `lineage.json` and checks its signature with the data owner's public
 * key, before any key is released: a run whose data the owner did not sign does not start.
 *
 * @throws {SealtrainError} `ERR_LINEAGE_INVALID` when the manifest is missing, malformed or signed
 *   by another key (or changed after signing); the key file's own errors when it cannot be read.
 */
export async function openTrustedLineage(inputs: RunInputs, keyPath: string): Promise<TrustedLineage> {
  const key = await readPublicKey(keyPath);
  if (key.asymmetricKeyType !== 'ed25519')
    throw new SealtrainError(
      'ERR_AUDIT_SIGNING_KEY',
      `${keyPath} (data.lineage_key) is not an Ed25519 public key.`,
      { details: { path: keyPath } },
    );
  if (inputs.lineage === undefined)
    throw invalid(
      'data.lineage_key asks for the data to match its signed lineage manifest, but data.dir has no lineage.json: copy it with the prepared files.',
      {},
    );
  const manifest = await readLineageManifest(inputs.lineage);
  const keyId = keyIdOf(key);
  if (!manifestSignatureValid(manifest, key))
    throw invalid(
      manifest.signature.keyId === keyId
        ? `${inputs.lineage} was changed after it was signed.`
        : `${inputs.lineage} is signed by key ${manifest.signature.keyId}, not by the data owner's key ${keyId} (data.lineage_key ${keyPath}).`,
      { path: inputs.lineage, keyId: manifest.signature.keyId, expectedKeyId: keyId },
    );
  return { path: inputs.lineage, keyId, manifest };
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 }))
      hash.update(chunk as Buffer);
  } catch (error) {
    throw fromFsError(error, 'read', path);
  }
  return hash.digest('hex');
}

/** A file to check: `plaintextSha256`, when the caller already has the decrypted file's digest. */
interface Checked {
  readonly path: string;
  readonly sealed: boolean;
  readonly sha256?: string;
}

async function check(lineage: TrustedLineage, files: readonly Checked[]): Promise<void> {
  const base = dirname(resolve(lineage.path));
  const listed = new Map<string, LineageOutput>(
    lineage.manifest.outputs.map((o) => [resolve(base, o.path), o]),
  );
  const failures: string[] = [];
  for (const file of files) {
    const entry = listed.get(resolve(file.path));
    const name = relative(base, file.path);
    if (!entry) {
      failures.push(`${name} is not one of its outputs`);
      continue;
    }
    const known =
      file.sha256 === undefined
        ? undefined
        : file.sealed
          ? entry.plaintextSha256
          : entry.sealed
            ? undefined
            : entry.sha256;
    const matches =
      known !== undefined ? known === file.sha256 : entry.sha256 === (await sha256Of(file.path));
    if (!matches) failures.push(`${name} differs from what it lists`);
  }
  if (failures.length > 0)
    throw invalid(
      `The data does not match its signed lineage manifest ${lineage.path}: ${failures.join('; ')}. It is not the data its owner prepared; nothing was trained.`,
      { path: lineage.path, failures },
    );
}

/**
 * Checks every split the run loaded against the trusted manifest: each must be listed among its
 * outputs, with the digest of the decrypted tensor file (`plaintextSha256`, already computed while
 * the split was read, so this costs nothing) or, for a manifest without it, of the bytes on disk.
 * Every mismatch is named; the caller wipes the splits and stops.
 *
 * @throws {SealtrainError} `ERR_LINEAGE_INVALID` naming each split that is missing from the
 *   manifest or differs from it.
 */
export function checkSplitsAgainstLineage(
  lineage: TrustedLineage,
  splits: readonly LoadedSplit[],
): Promise<void> {
  return check(
    lineage,
    splits.map((s) => ({ path: s.path, sealed: s.sealed, sha256: s.sha256 })),
  );
}

/**
 * Checks files as they are on disk (exec mode's inputs, before they are decrypted) against the
 * trusted manifest's `sha256`.
 *
 * @throws {SealtrainError} `ERR_LINEAGE_INVALID` naming each file that is missing or differs.
 */
export function checkFilesAgainstLineage(lineage: TrustedLineage, paths: readonly string[]): Promise<void> {
  return check(
    lineage,
    paths.map((path) => ({ path, sealed: true })),
  );
}
