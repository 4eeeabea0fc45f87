import { dirname, relative, resolve } from 'node:path';
import { keyIdOf, readPublicKey } from '../audit/index.js';
import {
  type LineageManifest,
  type LineageOutput,
  manifestSignatureValid,
  readLineageManifestWithDigest,
} from '../data/lineage.js';
import { SealtrainError } from '../errors/index.js';
import type { RunInputs, SignedSealedSplit } from './load-inputs.js';

const ROLES = ['train', 'validation', 'test'] as const;

/** A lineage manifest whose signature holds under the key the run config pins (`data.lineage_key`). */
export interface TrustedLineage {
  /** Where the manifest is. */
  readonly path: string;
  /** SHA-256 of the manifest bytes that were verified (the model card names these, not a re-read). */
  readonly sha256: string;
  /** The signing key's id (SHA-256 of its SPKI): the data owner's. */
  readonly keyId: string;
  readonly manifest: LineageManifest;
}

/** A file as the run holds it in memory: its plaintext's SHA-256, and whether it was sealed. */
export interface DecryptedInput {
  readonly path: string;
  readonly sealed: boolean;
  /** SHA-256 of the plaintext bytes the run will use. */
  readonly sha256: string;
}

function invalid(message: string, details: Record<string, string | readonly string[]>): SealtrainError {
  return new SealtrainError('ERR_LINEAGE_INVALID', message, { details });
}

/** The manifest's outputs by absolute path. */
function outputsOf(lineage: { path: string; manifest: LineageManifest }): Map<string, LineageOutput> {
  const base = dirname(resolve(lineage.path));
  return new Map(lineage.manifest.outputs.map((o) => [resolve(base, o.path), o]));
}

/**
 * Reads the prepare folder's `lineage.json` and checks, before any key is released: its signature
 * with the data owner's public key, and that the run reads exactly the splits it signed, each in
 * its role (no signed split left out, none swapped for another, none added). A run whose data the
 * owner did not sign does not start.
 *
 * @throws {SealtrainError} `ERR_LINEAGE_INVALID` when the manifest is missing, malformed, signed
 *   by another key or changed after signing, or the splits are not the ones it signs;
 *   `ERR_AUDIT_SIGNING_KEY` when the key is not Ed25519.
 */
export async function openTrustedLineage(inputs: RunInputs, keyPath: string): Promise<TrustedLineage> {
  const key = await readPublicKey(keyPath);
  if (key.asymmetricKeyType !== 'ed25519')
    throw new SealtrainError(
      'ERR_AUDIT_SIGNING_KEY',
      `${keyPath} (data.lineage_key) is not an Ed25519 public key.`,
      { details: { path: keyPath } },
    );
  const path = inputs.lineage;
  if (path === undefined)
    throw invalid(
      'data.lineage_key asks for the data to match its signed lineage manifest, but data.dir has no lineage.json: copy it with the prepared files.',
      {},
    );
  const { manifest, sha256 } = await readLineageManifestWithDigest(path);
  const keyId = keyIdOf(key);
  if (!manifestSignatureValid(manifest, key))
    throw invalid(
      manifest.signature.keyId === keyId
        ? `${path} was changed after it was signed.`
        : `${path} is signed by key ${manifest.signature.keyId}, not by the data owner's key ${keyId} (data.lineage_key ${keyPath}).`,
      { path, keyId: manifest.signature.keyId, expectedKeyId: keyId },
    );
  const lineage = { path, sha256, keyId, manifest };
  const base = dirname(resolve(path));
  const outputs = outputsOf(lineage);
  const failures: string[] = [];
  for (const role of ROLES) {
    const used = inputs[role];
    const signed = manifest.outputs.find((o) => o.split === role);
    if (signed && (used === undefined || resolve(base, signed.path) !== resolve(used)))
      failures.push(
        used === undefined
          ? `its ${role} split ${signed.path} is not read by this run`
          : `this run reads ${relative(base, used)} as the ${role} split, not ${signed.path}`,
      );
    else if (!signed && used !== undefined)
      failures.push(
        outputs.has(resolve(used))
          ? `${relative(base, used)} is not its ${role} split`
          : `${relative(base, used)} (${role}) is not one of its outputs`,
      );
  }
  for (const file of inputs.files)
    if (!outputs.has(resolve(file))) failures.push(`${relative(base, file)} is not one of its outputs`);
  if (failures.length > 0)
    throw invalid(
      `The data is not what its signed lineage manifest ${path} lists: ${failures.join('; ')}. Nothing was released or trained.`,
      { path, failures },
    );
  return lineage;
}

/**
 * What the trusted manifest lists for `path` when it is a sealed output with both digests: what
 * {@link loadSplit} checks the stored file against while reading it.
 */
export function signedSealedSplit(lineage: TrustedLineage, path: string): SignedSealedSplit | undefined {
  const entry = outputsOf(lineage).get(resolve(path));
  return entry?.sealed && entry.plaintextSha256 !== undefined
    ? { sha256: entry.sha256, plaintextSha256: entry.plaintextSha256 }
    : undefined;
}

/**
 * Checks files the run decrypted into memory against the trusted manifest, before anything uses
 * them: a sealed file's plaintext against the `plaintextSha256` the owner signed, a plain file's
 * bytes against its `sha256`. The digests are of the very bytes the run holds (no second read
 * from disk), and a tensor split's is computed while it is read, so the check costs no extra pass.
 *
 * @throws {SealtrainError} `ERR_LINEAGE_INVALID` naming each file that differs, is not listed, or
 *   was signed by a `prepare` that did not record plaintext digests (prepare it again).
 */
export function checkAgainstLineage(lineage: TrustedLineage, files: readonly DecryptedInput[]): void {
  const base = dirname(resolve(lineage.path));
  const outputs = outputsOf(lineage);
  const failures: string[] = [];
  for (const file of files) {
    const entry = outputs.get(resolve(file.path));
    const name = relative(base, file.path);
    if (!entry) failures.push(`${name} is not one of its outputs`);
    else if (entry.sealed !== file.sealed)
      failures.push(
        `${name} is ${file.sealed ? '' : 'not '}sealed, but it lists it as ${entry.sealed ? '' : 'not '}sealed`,
      );
    else if (entry.sealed && entry.plaintextSha256 === undefined)
      failures.push(
        `it lists no plaintext digest for ${name} (made by an older prepare: prepare the data again)`,
      );
    else if ((entry.sealed ? entry.plaintextSha256 : entry.sha256) !== file.sha256)
      failures.push(`${name} differs from what it lists`);
  }
  if (failures.length > 0)
    throw invalid(
      `The data does not match its signed lineage manifest ${lineage.path}: ${failures.join('; ')}. It is not the data its owner prepared; nothing was trained.`,
      { path: lineage.path, failures },
    );
}
