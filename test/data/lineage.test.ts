import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog, keyIdOf } from '../../src/audit/index.js';
import {
  assertLineageValid,
  type LineageManifest,
  lineageTool,
  loadLineageSigningKey,
  manifestSignatureValid,
  parseLineageManifest,
  readLineageManifest,
  signManifest,
  type UnsignedLineageManifest,
  verifyManifest,
  writeLineageManifest,
} from '../../src/data/lineage.js';
import { tensorFileDigest } from '../../src/data/tensor-file.js';
import { isSealtrainError, type SealtrainError } from '../../src/errors/index.js';
import { rejectsWith } from '../helpers/rejects.js';
import { tensorFileBytes } from '../helpers/tensor-bytes.js';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const sha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

let dir = '';
let manifestPath = '';
let unsigned: UnsignedLineageManifest;

/** A tensor file's bytes, written through the writer. */
async function tensorBytes(): Promise<Uint8Array> {
  return new Uint8Array((await tensorFileBytes(2)).bytes);
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealtrain-lineage-'));
  const input = 'x,y\n0.5,a\n1.5,b\n';
  const tensor = await tensorBytes();
  const sealed = Buffer.from('pretend these are sealed bytes');
  await mkdir(join(dir, 'raw'));
  await mkdir(join(dir, 'out'));
  await writeFile(join(dir, 'raw', 'data.csv'), input);
  await writeFile(join(dir, 'out', 'train.tensor'), tensor);
  await writeFile(join(dir, 'out', 'test.tensor.sealed'), sealed);
  manifestPath = join(dir, 'out', 'lineage.json');
  unsigned = {
    version: 1,
    tool: await lineageTool(),
    createdAt: '2026-11-23T10:00:00.000Z',
    inputs: [{ path: '../raw/data.csv', sha256: sha(input), bytes: input.length, format: 'csv' }],
    schema: { sha256: 'ab'.repeat(32), path: 'schema.json' },
    rows: {
      read: 2,
      problems: 0,
      dropped: 0,
      imputed: 0,
      kept: 2,
      perSplit: { train: 2, validation: 0, test: 0 },
    },
    transforms: { x: { normalize: 'zscore', mean: 1, std: 0.5 }, y: { categories: ['a', 'b'] } },
    split: { seed: 7, fractions: { train: 1, validation: 0, test: 0 }, stratifiedBy: 'y' },
    outputs: [
      {
        path: 'train.tensor',
        sha256: tensorFileDigest(tensor),
        bytes: tensor.length,
        sealed: false,
        split: 'train',
      },
      {
        path: 'test.tensor.sealed',
        sha256: sha(sealed),
        plaintextSha256: 'cd'.repeat(32),
        bytes: sealed.length,
        sealed: true,
        split: 'test',
      },
    ],
    checks: { duplicates_across_splits: 0, label_drift: { p: 0.5 } },
  };
  await writeLineageManifest(manifestPath, signManifest(unsigned, privateKey));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Rewrites the manifest file's JSON with `edit`. */
async function editManifest(edit: (m: Record<string, unknown>) => void): Promise<void> {
  const m = JSON.parse(await readFile(manifestPath, 'utf8')) as Record<string, unknown>;
  edit(m);
  await writeFile(manifestPath, JSON.stringify(m));
}

function thrown(run: () => unknown): SealtrainError {
  try {
    run();
  } catch (error) {
    if (isSealtrainError(error)) return error;
    throw error;
  }
  throw new Error('expected an error, but the call succeeded');
}

describe('lineage manifests', () => {
  it('signs, writes and verifies: signature valid, every file ok', async () => {
    const report = await verifyManifest(manifestPath, { publicKey });
    expect(report.ok, report.failures.join('\n')).toBe(true);
    expect(report.signature).toBe('valid');
    expect(report.keyId).toBe(keyIdOf(publicKey));
    expect(report.files.map((f) => [f.path, f.role, f.status])).toEqual([
      ['../raw/data.csv', 'input', 'ok'],
      ['train.tensor', 'output', 'ok'],
      ['test.tensor.sealed', 'output', 'ok'],
    ]);
    expect(() => assertLineageValid(report)).not.toThrow();
    const read = await readLineageManifest(manifestPath);
    expect(read.signature.alg).toBe('Ed25519');
    expect(read.tool.version).toBe(
      (
        JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
          version: string;
        }
      ).version,
    );
    expect(await readFile(manifestPath, 'utf8')).toMatch(/^{\n {2}"version": 1,\n/);
  });

  it('reports an output changed by one byte', async () => {
    const path = join(dir, 'out', 'train.tensor');
    const bytes = await readFile(path);
    bytes[100] = (bytes[100] ?? 0) ^ 1;
    await writeFile(path, bytes);
    const report = await verifyManifest(manifestPath, { publicKey });
    expect(report.ok).toBe(false);
    expect(report.signature).toBe('valid');
    expect(report.files.find((f) => f.path === 'train.tensor')?.status).toBe('changed');
    expect(report.files.find((f) => f.path === 'train.tensor')?.actual?.sha256).toBe(tensorFileDigest(bytes));
    const error = thrown(() => assertLineageValid(report));
    expect(error.code).toBe('ERR_LINEAGE_INVALID');
    expect(error.message).toMatch(/output train\.tensor changed: \d+ bytes with SHA-256 [0-9a-f]{64}/);
    expect(error.details.failures).toHaveLength(1);
  });

  it('reports a missing input and an output that is not a regular file', async () => {
    await unlink(join(dir, 'raw', 'data.csv'));
    await unlink(join(dir, 'out', 'test.tensor.sealed'));
    await mkdir(join(dir, 'out', 'test.tensor.sealed'));
    const report = await verifyManifest(manifestPath, { publicKey });
    expect(report.files.map((f) => f.status)).toEqual(['missing', 'ok', 'changed']);
    expect(report.failures).toEqual([
      `input ../raw/data.csv is missing (looked for ${join(dir, 'raw', 'data.csv')})`,
      'output test.tensor.sealed is not a regular file',
    ]);
    const error = thrown(() => assertLineageValid(report));
    expect(error.message).toContain('input ../raw/data.csv is missing');
    expect(error.message).toContain('output test.tensor.sealed is not a regular file');
  });

  it('does not wait on a named pipe or read a device, even in a validly signed manifest', async () => {
    await unlink(join(dir, 'raw', 'data.csv'));
    execFileSync('mkfifo', [join(dir, 'raw', 'data.csv')]);
    await editManifest((m) => {
      (m.outputs as { path: string }[])[1] = {
        ...(m.outputs as { path: string }[])[1],
        path: '/dev/zero',
      } as never;
    });
    const edited = JSON.parse(await readFile(manifestPath, 'utf8')) as Record<string, unknown>;
    delete edited.signature;
    await writeFile(manifestPath, JSON.stringify(signManifest(edited as never, privateKey)));
    const report = await verifyManifest(manifestPath, { publicKey });
    expect(report.files.map((f) => f.status)).toEqual(['changed', 'ok', 'changed']);
  });

  it('detects a field edited after signing', async () => {
    await editManifest((m) => {
      (m.rows as Record<string, number>).kept = 3;
    });
    const report = await verifyManifest(manifestPath, { publicKey });
    expect(report.signature).toBe('invalid');
    // A manifest whose signature fails names files nobody vouched for: none of them is read.
    expect(report.files).toEqual([]);
    expect(report.failures).toEqual([
      'the signature does not match the manifest (it was changed after signing)',
    ]);
    expect(() => assertLineageValid(report)).toThrow(/changed after signing/);
  });

  it('says when another key signed it', async () => {
    const report = await verifyManifest(manifestPath, { publicKey: other.publicKey });
    expect(report.signature).toBe('invalid');
    expect(report.failures[0]).toBe(
      `it is signed by key ${keyIdOf(publicKey)}, not by the expected key ${keyIdOf(other.publicKey)}`,
    );
    // A keyId rewritten to the verifier's does not help: the signature is still another key's.
    await editManifest((m) => {
      (m.signature as Record<string, string>).keyId = keyIdOf(other.publicKey);
    });
    const forged = await verifyManifest(manifestPath, { publicKey: other.publicKey });
    expect(forged.signature).toBe('invalid');
  });

  it('refuses malformed manifests with ERR_DATA_MALFORMED naming the field', async () => {
    await writeFile(manifestPath, '{"version": 1,');
    expect(
      (await rejectsWith(verifyManifest(manifestPath, { publicKey }), 'ERR_DATA_MALFORMED')).message,
    ).toMatch(/not JSON/);
    const signed = signManifest(unsigned, privateKey);
    const cases: [(m: Record<string, unknown>) => void, string, RegExp][] = [
      [(m) => Object.assign(m, { version: 2 }), 'version', /version 2; this sealtrain reads version 1/],
      [(m) => Object.assign(m, { version: '1' }), 'version', /version: /],
      [
        (m) => delete (m.outputs as Record<string, unknown>[])[0]?.sha256,
        'outputs.0.sha256',
        /outputs\.0\.sha256: /,
      ],
      [(m) => delete m.createdAt, 'createdAt', /createdAt: /],
      [(m) => Object.assign(m, { extra: true }), '', /Unrecognized key.*extra/],
      [(m) => Object.assign(m.rows as object, { kept: -1 }), 'rows.kept', /rows\.kept: /],
      [
        (m) => Object.assign(m.signature as object, { value: 'AAAA' }),
        'signature.value',
        /base64 of 64 bytes/,
      ],
    ];
    for (const [edit, field, message] of cases) {
      const m = JSON.parse(JSON.stringify(signed)) as Record<string, unknown>;
      edit(m);
      await writeFile(manifestPath, JSON.stringify(m));
      const error = await rejectsWith(verifyManifest(manifestPath, { publicKey }), 'ERR_DATA_MALFORMED');
      expect(error.message).toContain(manifestPath);
      expect(error.message).toMatch(message);
      expect(error.details.fields).toContain(field);
    }
    await rejectsWith(verifyManifest(join(dir, 'absent.json'), { publicKey }), 'ERR_IO_NOT_FOUND');
  });

  it('signs with the audit key of a home, and verifies with that home’s public key by default', async () => {
    const home = join(dir, 'home');
    const key = await loadLineageSigningKey(home);
    expect(await loadLineageSigningKey(home)).toSatisfy((k: typeof key) => k.equals(key));
    await writeLineageManifest(manifestPath, signManifest(unsigned, key), { overwrite: true });
    const report = await verifyManifest(manifestPath, { home });
    expect(report.ok, report.failures.join('\n')).toBe(true);
    const log = await AuditLog.open(join(home, 'audit'));
    expect(log.keyId).toBe(report.keyId);
    await log.close();
    await rejectsWith(
      verifyManifest(manifestPath, { home: join(dir, 'elsewhere') }),
      'ERR_AUDIT_SIGNING_KEY',
    );
    await rejectsWith(verifyManifest(manifestPath), 'ERR_USAGE_INVALID');
  });

  it('resolves relative paths against baseDir when the manifest moved', async () => {
    const moved = join(dir, 'lineage.json');
    await rename(manifestPath, moved);
    expect((await verifyManifest(moved, { publicKey })).files.map((f) => f.status)).toEqual([
      'missing',
      'missing',
      'missing',
    ]);
    expect((await verifyManifest(moved, { publicKey, baseDir: join(dir, 'out') })).ok).toBe(true);
  });

  it('refuses to sign a malformed manifest or with a key that is not Ed25519', () => {
    const bad = { ...unsigned, checks: { ratio: Number.NaN } };
    const error = thrown(() => signManifest(bad, privateKey));
    expect(error.code).toBe('ERR_INTERNAL');
    expect(error.message).toMatch(/checks\.ratio/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    expect(thrown(() => signManifest(unsigned, rsa)).code).toBe('ERR_AUDIT_SIGNING_KEY');
    expect(thrown(() => signManifest(unsigned, publicKey)).code).toBe('ERR_AUDIT_SIGNING_KEY');
  });

  it('keeps any JSON in transforms and checks verifiable through a write and a read', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.jsonValue()),
        fc.dictionary(fc.string(), fc.jsonValue()),
        (transforms, checks) => {
          const parsed = (v: unknown) => JSON.parse(JSON.stringify(v)) as Record<string, never>;
          const signed = signManifest(
            { ...unsigned, transforms: parsed(transforms), checks: parsed(checks) },
            privateKey,
          );
          const read: LineageManifest = parseLineageManifest(JSON.stringify(signed, null, 2), 'property');
          expect(manifestSignatureValid(read, publicKey)).toBe(true);
          expect(manifestSignatureValid({ ...read, createdAt: '2026-11-23T10:00:00.001Z' }, publicKey)).toBe(
            false,
          );
        },
      ),
    );
  });
});
