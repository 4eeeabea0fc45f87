import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Check } from '../../../src/attest/check.js';
import type { Claims, ClaimValue } from '../../../src/attest/claims.js';
import {
  createSimEvidence,
  loadOrCreateSimKey,
  SIM_DEFAULT_MEASUREMENT,
  type SimEvidence,
  simKeyId,
  verifySimEvidence,
} from '../../../src/attest/sim/index.js';
import { isSealtrainError } from '../../../src/errors/index.js';

const key = generateKeyPairSync('ed25519');
const NOW = new Date('2026-03-01T12:00:00Z');
const reportData = new Uint8Array(64).map((_, i) => i);
const evidence = createSimEvidence({ reportData }, { privateKey: key.privateKey, now: NOW });
const failedIds = (checks: readonly Check[]) => checks.filter((c) => !c.ok).map((c) => c.id);
const verifyAt = (e: SimEvidence, now = NOW, publicKey = key.publicKey) =>
  verifySimEvidence(e, { publicKey, now });
const payloadOf = (e: SimEvidence) =>
  JSON.parse(Buffer.from(e.payload, 'base64').toString()) as Record<string, unknown>;
const withPayload = (e: SimEvidence, p: object): SimEvidence => ({
  ...e,
  payload: Buffer.from(JSON.stringify(p)).toString('base64'),
});
const errorOf = (f: () => unknown) => {
  try {
    f();
  } catch (error) {
    if (isSealtrainError(error)) return [error.code, error.details.field ?? error.details.path];
    throw error;
  }
  return undefined;
};

function* namesIn(value: ClaimValue): Generator<string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
  for (const [name, inner] of Object.entries(value)) {
    yield name;
    yield* namesIn(inner as ClaimValue);
  }
}

describe('simulated evidence', () => {
  it('round-trips with every check passing and says it is insecure', () => {
    const result = verifyAt(evidence);
    expect(result.checks.map((c) => c.id)).toEqual(['sim.signature', 'sim.key-id', 'sim.freshness']);
    expect(failedIds(result.checks)).toEqual([]);
    const payload = payloadOf(evidence);
    expect(payload).toMatchObject({
      'sealtrain-sim': 1,
      insecure: 'simulated TEE, no hardware protection',
      reportData: Buffer.from(reportData).toString('hex'),
      measurement: SIM_DEFAULT_MEASUREMENT,
      debug: false,
      vmpl: 0,
      createdAt: NOW.toISOString(),
      keyId: createHash('sha256')
        .update(key.publicKey.export({ type: 'spki', format: 'der' }))
        .digest('hex'),
    });
    expect(simKeyId(key.privateKey)).toBe(payload.keyId);
  });

  it('documents the default measurement', () => {
    const text = 'sealtrain simulated TEE: insecure, no hardware measurement';
    expect(createHash('sha384').update(text).digest('hex')).toBe(SIM_DEFAULT_MEASUREMENT);
  });

  it('yields sim claims only, at both levels', () => {
    const measurement = 'ab'.repeat(48);
    const e = createSimEvidence({ reportData, measurement }, { privateKey: key.privateKey, now: NOW });
    const { claims } = verifyAt(e);
    expect(claims).toEqual({
      'x-ms-attestation-type': 'sim',
      'x-ms-isolation-tee': {
        'x-ms-attestation-type': 'sim',
        'x-ms-compliance-status': 'sim-insecure',
        'x-ms-sim-launchmeasurement': measurement,
        'x-ms-sim-is-debuggable': false,
        'x-ms-sim-vmpl': 0,
        'x-ms-sim-reportdata': Buffer.from(reportData).toString('hex'),
      },
      'x-ms-sim-launchmeasurement': measurement,
      'x-ms-sim-is-debuggable': false,
      'x-ms-sim-vmpl': 0,
      'x-ms-sim-reportdata': Buffer.from(reportData).toString('hex'),
    } satisfies Claims);
    const names = [...namesIn(claims)];
    expect(names.filter((n) => n.startsWith('x-ms-sevsnpvm-') || n.startsWith('x-ms-azurevm-'))).toEqual([]);
    const types = names.filter((n) => n === 'x-ms-attestation-type');
    expect(types).toHaveLength(2);
    expect([
      claims['x-ms-attestation-type'],
      (claims['x-ms-isolation-tee'] as Claims)['x-ms-attestation-type'],
    ]).toEqual(['sim', 'sim']);
  });

  it('fails sim.signature and sim.key-id under a different key', () => {
    const other = generateKeyPairSync('ed25519');
    expect(failedIds(verifyAt(evidence, NOW, other.publicKey).checks)).toEqual([
      'sim.signature',
      'sim.key-id',
    ]);
    const forged = createSimEvidence({ reportData }, { privateKey: other.privateKey, now: NOW });
    expect(failedIds(verifyAt(forged).checks)).toEqual(['sim.signature', 'sim.key-id']);
    const relabelled = withPayload(forged, { ...payloadOf(forged), keyId: simKeyId(key.publicKey) });
    expect(failedIds(verifyAt(relabelled).checks)).toEqual(['sim.signature']);
  });

  it('fails sim.signature when the payload is edited', () => {
    const p = payloadOf(evidence);
    for (const edit of [
      { debug: true },
      { vmpl: 1 },
      { measurement: 'cd'.repeat(48) },
      { reportData: '00'.repeat(64) },
    ]) {
      const result = verifyAt(withPayload(evidence, { ...p, ...edit }));
      expect(failedIds(result.checks)).toEqual(['sim.signature']);
    }
    const sig = Buffer.from(evidence.signature, 'base64');
    sig[10] = (sig[10] ?? 0) ^ 1;
    expect(failedIds(verifyAt({ ...evidence, signature: sig.toString('base64') }).checks)).toEqual([
      'sim.signature',
    ]);
  });

  it('fails sim.freshness when stale or from the future', () => {
    expect(failedIds(verifyAt(evidence, new Date(NOW.getTime() + 300_000)).checks)).toEqual([]);
    expect(failedIds(verifyAt(evidence, new Date(NOW.getTime() + 301_000)).checks)).toEqual([
      'sim.freshness',
    ]);
    expect(failedIds(verifyAt(evidence, new Date(NOW.getTime() - 61_000)).checks)).toEqual(['sim.freshness']);
    const lenient = verifySimEvidence(evidence, {
      publicKey: key.publicKey,
      now: new Date(NOW.getTime() + 3_600_000),
      maxAgeSeconds: 7200,
    });
    expect(failedIds(lenient.checks)).toEqual([]);
  });

  it('refuses bad input with coded errors naming the field', () => {
    const pk = { privateKey: key.privateKey, now: NOW };
    expect(errorOf(() => createSimEvidence({ reportData: new Uint8Array(63) }, pk))).toEqual([
      'ERR_ATTEST_MALFORMED',
      'reportData',
    ]);
    expect(errorOf(() => createSimEvidence({ reportData, measurement: 'zz' }, pk))).toEqual([
      'ERR_ATTEST_MALFORMED',
      'measurement',
    ]);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(errorOf(() => createSimEvidence({ reportData }, { privateKey: rsa.privateKey }))).toEqual([
      'ERR_USAGE_INVALID',
      'privateKey',
    ]);
    expect(errorOf(() => verifyAt({ ...evidence, payload: 'not base64!' }))).toEqual([
      'ERR_ATTEST_MALFORMED',
      'payload',
    ]);
    expect(errorOf(() => verifyAt({ ...evidence, signature: 'AAAA' }))).toEqual([
      'ERR_ATTEST_MALFORMED',
      'signature',
    ]);
    const text = (s: string) => ({ ...evidence, payload: Buffer.from(s).toString('base64') });
    expect(errorOf(() => verifyAt(text('{"a":')))).toEqual(['ERR_ATTEST_MALFORMED', 'payload']);
    const p = payloadOf(evidence);
    expect(errorOf(() => verifyAt(withPayload(evidence, { ...p, extra: 1 })))).toEqual([
      'ERR_ATTEST_MALFORMED',
      'payload.extra',
    ]);
    expect(errorOf(() => verifyAt(withPayload(evidence, { ...p, vmpl: '0' })))).toEqual([
      'ERR_ATTEST_MALFORMED',
      'payload.vmpl',
    ]);
    expect(errorOf(() => verifyAt(withPayload(evidence, { ...p, 'sealtrain-sim': 2 })))).toEqual([
      'ERR_ATTEST_UNSUPPORTED',
      'payload.sealtrain-sim',
    ]);
    expect(errorOf(() => verifyAt(null as unknown as SimEvidence))).toEqual([
      'ERR_ATTEST_MALFORMED',
      'evidence',
    ]);
    expect(errorOf(() => verifySimEvidence(evidence, { publicKey: rsa.publicKey }))).toEqual([
      'ERR_USAGE_INVALID',
      'publicKey',
    ]);
    const zeroAge = { publicKey: key.publicKey, maxAgeSeconds: 0 };
    expect(errorOf(() => verifySimEvidence(evidence, zeroAge))).toEqual([
      'ERR_USAGE_INVALID',
      'maxAgeSeconds',
    ]);
  });
});

describe('loadOrCreateSimKey', () => {
  const homes: string[] = [];
  const newHome = async () => {
    const home = await mkdtemp(join(tmpdir(), 'sealtrain-sim-'));
    homes.push(home);
    return home;
  };
  afterAll(async () => {
    await Promise.all(homes.map((h) => rm(h, { recursive: true, force: true })));
  });

  it('creates an Ed25519 key with mode 0600 and reuses it', async () => {
    const home = await newHome();
    const first = await loadOrCreateSimKey(home);
    const path = join(home, 'attest', 'sim-key.pem');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(first.privateKey.asymmetricKeyType).toBe('ed25519');
    const pem = await readFile(path, 'utf8');
    const second = await loadOrCreateSimKey(home);
    expect(await readFile(path, 'utf8')).toBe(pem);
    expect(simKeyId(second.publicKey)).toBe(simKeyId(first.publicKey));
    const e = createSimEvidence({ reportData }, { privateKey: first.privateKey, now: NOW });
    expect(failedIds(verifyAt(e, NOW, second.publicKey).checks)).toEqual([]);
  });

  it('gives one key to concurrent first uses', async () => {
    const home = await newHome();
    const pairs = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateSimKey(home)));
    expect(new Set(pairs.map((p) => simKeyId(p.publicKey))).size).toBe(1);
  });

  it('refuses a malformed key file, naming it', async () => {
    const home = await newHome();
    const path = join(home, 'attest', 'sim-key.pem');
    await mkdir(join(home, 'attest'));
    await writeFile(path, 'garbage');
    await expect(loadOrCreateSimKey(home)).rejects.toMatchObject({
      code: 'ERR_ATTEST_MALFORMED',
      details: { path },
    });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    await writeFile(path, rsa.export({ type: 'pkcs8', format: 'pem' }));
    await expect(loadOrCreateSimKey(home)).rejects.toThrow(/not Ed25519/);
  });
});
