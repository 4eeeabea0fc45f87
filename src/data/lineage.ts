import { createHash, type KeyObject, sign, verify } from 'node:crypto';
import { type FileHandle, mkdir, open, readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { auditPaths, canonicalJson, keyIdOf, loadOrCreateSigningKey, readPublicKey } from '../audit/index.js';
// The audit key's files have no public API yet; lineage signs with that key (see the spec).
import { fromFsError, hasSystemCode, SealtrainError } from '../errors/index.js';
import { packageVersion } from '../internal/package-root.js';
import { type AtomicWriteOptions, READ_NONBLOCK, withFileLock, writeFileAtomic } from '../store/index.js';
import { hashFile } from './internal/hash-file.js';
import type { JsonValue } from './tensor-file.js';

/** The manifest version this module writes and reads (`docs/spec/lineage-manifest-v1.md`). */
export const LINEAGE_MANIFEST_VERSION = 1;

/** The largest manifest {@link readLineageManifest} reads: 16 MiB. */
const MAX_MANIFEST_BYTES = 16 << 20;

/** Named counts, one level of nesting allowed (`perSplit`). */
export type LineageCounts = Readonly<Record<string, number | Readonly<Record<string, number>>>>;

/** An input file as hashed when the manifest was made. */
export interface LineageInput {
  readonly path: string;
  readonly sha256: string;
  readonly bytes: number;
  /** `csv`, `jsonl`, `parquet`, `idx`. */
  readonly format: string;
  /** Modification time when hashed, `YYYY-MM-DDTHH:MM:SS.sssZ`. */
  readonly modified?: string;
}

/** An output file as written: `sha256` is of the stored bytes (sealed bytes when sealed). */
export interface LineageOutput {
  readonly path: string;
  readonly sha256: string;
  readonly plaintextSha256?: string;
  readonly bytes: number;
  readonly sealed: boolean;
  readonly split?: 'train' | 'validation' | 'test';
}

/** A manifest before signing. */
export interface UnsignedLineageManifest {
  readonly version: 1;
  readonly tool: { readonly name: 'sealtrain'; readonly version: string };
  readonly createdAt: string;
  readonly inputs: readonly LineageInput[];
  readonly schema: { readonly sha256: string; readonly path?: string; readonly inferred?: boolean };
  readonly rows: LineageCounts;
  readonly transforms: Readonly<Record<string, JsonValue>>;
  readonly split: {
    readonly seed: number | string;
    readonly fractions: Readonly<Record<string, number>>;
    readonly stratifiedBy: string | null;
  };
  readonly outputs: readonly LineageOutput[];
  readonly checks: Readonly<Record<string, JsonValue>>;
}

/** A signed lineage manifest. */
export interface LineageManifest extends UnsignedLineageManifest {
  readonly signature: { readonly alg: 'Ed25519'; readonly keyId: string; readonly value: string };
}

/** One file's verification. */
export interface LineageFileCheck {
  /** As the manifest names it. */
  readonly path: string;
  /** Where it was looked for. */
  readonly resolved: string;
  readonly role: 'input' | 'output';
  readonly status: 'ok' | 'changed' | 'missing';
  /** What was found, for a changed file (`sha256` absent when it is not a regular file). */
  readonly actual?: { readonly sha256?: string; readonly bytes: number };
}

/** What {@link verifyManifest} found. */
export interface LineageVerifyReport {
  /** The signature is valid and every file is `ok`. */
  readonly ok: boolean;
  readonly manifest: string;
  readonly signature: 'valid' | 'invalid';
  /** The key the manifest says signed it. */
  readonly keyId: string;
  /** The key it was verified with. */
  readonly expectedKeyId: string;
  readonly files: readonly LineageFileCheck[];
  /** One sentence per failure. */
  readonly failures: readonly string[];
}

/** Options for {@link verifyManifest}. */
export interface VerifyManifestOptions {
  /** The Ed25519 public key to verify with; pin it. Default: the audit public key of `home`. */
  readonly publicKey?: KeyObject;
  /** The sealtrain home whose `audit/signing-key.pub.pem` verifies, when no key is given. */
  readonly home?: string;
  /** Resolve relative file paths here instead of in the manifest's folder. */
  readonly baseDir?: string;
}

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');
const time = z.string().regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'must be YYYY-MM-DDTHH:MM:SS.sssZ');
const filePath = z
  .string()
  .min(1)
  .max(4096)
  .regex(/^[^\0]*$/, 'must not contain NUL');
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const countName = z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,63}$/, 'must be a count name');
const jsonObject = z.record(z.string(), z.json());
const unsignedSchema = z.strictObject({
  version: z.literal(1),
  tool: z.strictObject({ name: z.literal('sealtrain'), version: z.string().min(1).max(64) }),
  createdAt: time,
  inputs: z
    .array(
      z.strictObject({
        path: filePath,
        sha256: hex64,
        bytes: count,
        format: z.string().min(1).max(32),
        modified: time.optional(),
      }),
    )
    .min(1)
    .max(10_000),
  schema: z.strictObject({ sha256: hex64, path: filePath.optional(), inferred: z.boolean().optional() }),
  rows: z.record(countName, z.union([count, z.record(countName, count)])),
  transforms: jsonObject,
  split: z.strictObject({
    seed: z.union([z.number().int(), z.string().max(256)]),
    fractions: z.record(z.string().min(1).max(64), z.number().min(0).max(1)),
    stratifiedBy: z.string().min(1).max(1024).nullable(),
  }),
  outputs: z
    .array(
      z.strictObject({
        path: filePath,
        sha256: hex64,
        plaintextSha256: hex64.optional(),
        bytes: count,
        sealed: z.boolean(),
        split: z.enum(['train', 'validation', 'test']).optional(),
      }),
    )
    .min(1)
    .max(10_000),
  checks: jsonObject,
});
const manifestSchema = unsignedSchema.extend({
  signature: z.strictObject({
    alg: z.literal('Ed25519'),
    keyId: hex64,
    value: z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'must be the base64 of 64 bytes'),
  }),
});

/** `field: problem` for each zod issue. */
const problemsOf = (error: z.ZodError): string[] =>
  error.issues.map((i) => `${i.path.map(String).join('.') || '(top level)'}: ${i.message}`);

function malformed(source: string, problem: string, extra: Record<string, string | string[]> = {}) {
  return new SealtrainError('ERR_DATA_MALFORMED', `Cannot read lineage manifest ${source}: ${problem}.`, {
    details: { path: source, ...extra },
  });
}

/** `{name: 'sealtrain', version}` from this package's `package.json`, for {@link UnsignedLineageManifest.tool}. */
export async function lineageTool(): Promise<UnsignedLineageManifest['tool']> {
  return { name: 'sealtrain', version: await packageVersion(import.meta.url) };
}

/**
 * Signs a manifest with an Ed25519 private key (the audit signing key: see
 * {@link loadLineageSigningKey}): the signature covers the canonical JSON of `unsigned`.
 *
 * @throws {SealtrainError} `ERR_AUDIT_SIGNING_KEY` when the key is not an Ed25519 private key;
 *   `ERR_INTERNAL` naming each field of `unsigned` that breaks the spec (a NaN count, a bad hash).
 */
export function signManifest(unsigned: UnsignedLineageManifest, privateKey: KeyObject): LineageManifest {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519')
    throw new SealtrainError(
      'ERR_AUDIT_SIGNING_KEY',
      'The lineage signing key must be an Ed25519 private key.',
    );
  const result = unsignedSchema.safeParse(unsigned);
  if (!result.success) {
    const problems = problemsOf(result.error);
    throw new SealtrainError('ERR_INTERNAL', `Cannot sign the lineage manifest: ${problems.join('; ')}.`, {
      details: { problems },
    });
  }
  const value = sign(null, Buffer.from(canonicalJson(unsigned)), privateKey).toString('base64');
  return { ...unsigned, signature: { alg: 'Ed25519', keyId: keyIdOf(privateKey), value } };
}

/** True when `manifest` is signed by `publicKey` (its `keyId` and its signature). No I/O. */
export function manifestSignatureValid(manifest: LineageManifest, publicKey: KeyObject): boolean {
  const { signature, ...unsigned } = manifest;
  if (signature.keyId !== keyIdOf(publicKey)) return false;
  try {
    return verify(
      null,
      Buffer.from(canonicalJson(unsigned)),
      publicKey,
      Buffer.from(signature.value, 'base64'),
    );
  } catch {
    return false;
  }
}

/**
 * Parses and validates a manifest's text; `source` names it in errors.
 *
 * @throws {SealtrainError} `ERR_DATA_MALFORMED` when it is not JSON, has another version, or a
 *   member is missing, unknown or ill-typed (`details.fields` lists them).
 */
export function parseLineageManifest(text: string, source: string): LineageManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw malformed(source, `it is not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const version = (value as { version?: unknown } | null)?.version;
  if (typeof version === 'number' && version !== LINEAGE_MANIFEST_VERSION)
    throw malformed(source, `it has version ${version}; this sealtrain reads version 1`, {
      fields: ['version'],
    });
  const result = manifestSchema.safeParse(value);
  if (!result.success) {
    const problems = problemsOf(result.error);
    const fields = [...new Set(result.error.issues.map((i) => i.path.map(String).join('.')))];
    throw malformed(source, `it is invalid: ${problems.join('; ')}`, { fields, problems });
  }
  // The parsed JSON, not zod's copy, which would turn a `__proto__` member into a prototype.
  return value as LineageManifest;
}

/** Reads and parses the manifest at `path` (see {@link parseLineageManifest}). */
export async function readLineageManifest(path: string): Promise<LineageManifest> {
  return (await readLineageManifestWithDigest(path)).manifest;
}

/**
 * {@link readLineageManifest}, with the SHA-256 of the very bytes parsed: what a verifier names
 * when it vouches for the manifest, rather than a later read of the file.
 */
export async function readLineageManifestWithDigest(
  path: string,
): Promise<{ readonly manifest: LineageManifest; readonly sha256: string }> {
  let bytes: Buffer;
  try {
    const size = (await stat(path)).size;
    if (size > MAX_MANIFEST_BYTES)
      throw malformed(path, `it has ${size} bytes, more than the ${MAX_MANIFEST_BYTES}-byte limit`);
    bytes = await readFile(path);
  } catch (error) {
    throw fromFsError(error, 'read lineage manifest', path);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw malformed(path, 'it is not UTF-8');
  }
  return {
    manifest: parseLineageManifest(text, path),
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

/** Writes `manifest` to `path` as indented JSON, atomically (temp file, fsync, rename). */
export async function writeLineageManifest(
  path: string,
  manifest: LineageManifest,
  options: AtomicWriteOptions = {},
): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(manifest, null, 2)}\n`, options);
}

/**
 * The audit signing key of the sealtrain home `home` (created, as the audit log would, when
 * neither key nor signed heads exist), read under the audit folder's lock.
 *
 * @throws {SealtrainError} `ERR_AUDIT_SIGNING_KEY` naming the key file when it is unreadable or
 *   malformed; `ERR_IO_FAILED` when another process holds the audit lock for more than 10 s.
 */
export async function loadLineageSigningKey(home: string): Promise<KeyObject> {
  const paths = auditPaths(join(home, 'audit'));
  await mkdir(paths.dir, { recursive: true, mode: 0o700 }).catch((error: unknown) => {
    throw fromFsError(error, 'create the audit folder', paths.dir);
  });
  const key = await withFileLock(paths.lock, () => loadOrCreateSigningKey(paths), {
    timeoutMs: 10_000,
    onTimeout: (path) =>
      new SealtrainError(
        'ERR_IO_FAILED',
        `Cannot read the audit signing key: ${path} stayed locked for 10 s.`,
        {
          details: { path },
        },
      ),
  });
  return key.privateKey;
}

/** Checks one file against its entry: missing, not a regular file, size or hash changed, or ok. */
async function checkFile(
  entry: { readonly path: string; readonly sha256: string; readonly bytes: number },
  role: 'input' | 'output',
  baseDir: string,
): Promise<LineageFileCheck> {
  const resolved = isAbsolute(entry.path) ? entry.path : resolve(baseDir, entry.path);
  const base = { path: entry.path, resolved, role };
  let handle: FileHandle;
  try {
    // Non-blocking, so that opening a named pipe returns at once (and is refused below).
    handle = await open(resolved, READ_NONBLOCK);
  } catch (error) {
    if (hasSystemCode(error, 'ENOENT') || hasSystemCode(error, 'ENOTDIR'))
      return { ...base, status: 'missing' };
    throw fromFsError(error, `check the ${role}`, resolved);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) return { ...base, status: 'changed', actual: { bytes: 0 } };
    const actual = await hashFile(handle, info.size);
    const same = actual.bytes === entry.bytes && actual.sha256 === entry.sha256;
    return same ? { ...base, status: 'ok' } : { ...base, status: 'changed', actual };
  } catch (error) {
    throw fromFsError(error, `check the ${role}`, resolved);
  } finally {
    await handle.close();
  }
}

/** The failure sentence for a file that is not `ok`. */
function fileFailure(check: LineageFileCheck, expected: { sha256: string; bytes: number }): string {
  const name = `${check.role} ${check.path}`;
  if (check.status === 'missing') return `${name} is missing (looked for ${check.resolved})`;
  if (check.actual?.sha256 === undefined) return `${name} is not a regular file`;
  return `${name} changed: ${check.actual.bytes} bytes with SHA-256 ${check.actual.sha256}, the manifest says ${expected.bytes} bytes with ${expected.sha256}`;
}

/**
 * Verifies the lineage manifest at `manifestPath`: its signature (with the pinned key, else the
 * home's audit public key), then every input and output file it names, re-hashed. A failed
 * verification is a report with `ok: false`; {@link assertLineageValid} turns it into an error.
 *
 * @throws {SealtrainError} `ERR_DATA_MALFORMED` for a malformed manifest; `ERR_AUDIT_SIGNING_KEY`
 *   when the public key is missing or not Ed25519; `ERR_USAGE_INVALID` with neither key nor home;
 *   `ERR_IO_*` when the manifest or a file cannot be read.
 */
export async function verifyManifest(
  manifestPath: string,
  options: VerifyManifestOptions = {},
): Promise<LineageVerifyReport> {
  const manifest = await readLineageManifest(manifestPath);
  const publicKey = await verifyingKey(options);
  const expectedKeyId = keyIdOf(publicKey);
  const valid = manifestSignatureValid(manifest, publicKey);
  const failures: string[] = [];
  if (!valid)
    failures.push(
      manifest.signature.keyId === expectedKeyId
        ? 'the signature does not match the manifest (it was changed after signing)'
        : `it is signed by key ${manifest.signature.keyId}, not by the expected key ${expectedKeyId}`,
    );
  const baseDir = options.baseDir ?? dirname(resolve(manifestPath));
  const files: LineageFileCheck[] = [];
  const entries = [
    ...manifest.inputs.map((e) => ({ e, role: 'input' as const })),
    ...manifest.outputs.map((e) => ({ e, role: 'output' as const })),
  ];
  // Files are read only for a manifest whose signature holds: a forged manifest cannot make this
  // hash (and report the digest of) files it names, such as keys or passphrase files.
  for (const { e, role } of valid ? entries : []) {
    const check = await checkFile(e, role, baseDir);
    files.push(check);
    if (check.status !== 'ok') failures.push(fileFailure(check, e));
  }
  return {
    ok: failures.length === 0,
    manifest: manifestPath,
    signature: valid ? 'valid' : 'invalid',
    keyId: manifest.signature.keyId,
    expectedKeyId,
    files,
    failures,
  };
}

async function verifyingKey(options: VerifyManifestOptions): Promise<KeyObject> {
  if (options.publicKey !== undefined) {
    if (options.publicKey.asymmetricKeyType !== 'ed25519')
      throw new SealtrainError(
        'ERR_AUDIT_SIGNING_KEY',
        'The pinned lineage public key is not an Ed25519 key.',
      );
    return options.publicKey;
  }
  if (options.home === undefined)
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      'Cannot verify a lineage manifest without a key: pass the public key or the sealtrain home that signed it.',
    );
  return readPublicKey(auditPaths(join(options.home, 'audit')).pub);
}

/**
 * Throws unless the report is `ok`.
 *
 * @throws {SealtrainError} `ERR_LINEAGE_INVALID` listing every failure (`details.failures`).
 */
export function assertLineageValid(report: LineageVerifyReport): void {
  if (report.ok) return;
  throw new SealtrainError(
    'ERR_LINEAGE_INVALID',
    `The lineage manifest ${report.manifest} did not verify: ${report.failures.join('; ')}.`,
    { details: { path: report.manifest, signature: report.signature, failures: report.failures } },
  );
}
