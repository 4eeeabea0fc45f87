import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { collectEvidence } from '../../../src/attest/collect/collect-evidence.js';
import { parseEnvelope } from '../../../src/attest/evidence.js';
import { parseAttestationPolicy } from '../../../src/attest/policy.js';
import { verifyEvidence } from '../../../src/attest/verify-evidence.js';
import { isSealtrainError } from '../../../src/errors/index.js';

const sim = generateKeyPairSync('ed25519');
const runtime = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const allowSim = parseAttestationPolicy({ version: 1, allowSim: true });
const nonce = Buffer.from('request-42');
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const failed = (v: { failures: readonly { id: string }[] }) => v.failures.map((f) => f.id);

describe('collectEvidence and verifyEvidence', () => {
  it('binds the nonce and the runtime key: a swapped key or another nonce fails evidence.binding', async () => {
    const envelope = await collectEvidence({
      nonce,
      runtimeKey: runtime.publicKey,
      sim: { privateKey: sim.privateKey },
    });
    expect(envelope.kind).toBe('sim');
    expect(envelope.runtime?.keys[0]).not.toHaveProperty('d');
    const evidence = parseEnvelope(JSON.parse(JSON.stringify(envelope)), 'sim.json');
    const ok = await verifyEvidence(evidence, { policy: allowSim, nonce, simPublicKey: sim.publicKey });
    expect(failed(ok)).toEqual([]);
    expect(ok).toMatchObject({ ok: true, sim: true, fresh: true });
    expect(ok.claims['x-ms-runtime']).toEqual({ keys: envelope.runtime?.keys });

    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
    const swapped = parseEnvelope(
      { ...JSON.parse(JSON.stringify(envelope)), runtime: { keys: [attacker] } },
      'x',
    );
    expect(
      failed(await verifyEvidence(swapped, { policy: allowSim, nonce, simPublicKey: sim.publicKey })),
    ).toEqual(['evidence.binding']);
    const replay = await verifyEvidence(evidence, {
      policy: allowSim,
      nonce: Buffer.from('request-43'),
      simPublicKey: sim.publicKey,
    });
    expect(failed(replay)).toEqual(['evidence.binding']);
  });

  it('refuses sim by default, and without the sim key, reporting both failures', async () => {
    const envelope = await collectEvidence({ nonce, sim: { privateKey: sim.privateKey } });
    const evidence = parseEnvelope(JSON.parse(JSON.stringify(envelope)), 'sim.json');
    const v = await verifyEvidence(evidence, { nonce });
    expect(failed(v)).toEqual(['sim.signature', 'policy.allow-sim']);
    expect(v.fresh).toBe(false);
    const unfresh = await verifyEvidence(evidence, { policy: allowSim, simPublicKey: sim.publicKey });
    expect(unfresh).toMatchObject({ ok: true, fresh: false });
  });

  it('without --nonce still checks the runtime key against the envelope nonce, but is not fresh', async () => {
    const envelope = JSON.parse(
      JSON.stringify(
        await collectEvidence({ nonce, runtimeKey: runtime.publicKey, sim: { privateKey: sim.privateKey } }),
      ),
    );
    const bound = await verifyEvidence(parseEnvelope(envelope, 'e'), {
      policy: allowSim,
      simPublicKey: sim.publicKey,
    });
    expect(bound).toMatchObject({ ok: true, fresh: false });
    const attacker = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
    const swapped = parseEnvelope({ ...envelope, runtime: { keys: [attacker] } }, 'e');
    expect(failed(await verifyEvidence(swapped, { policy: allowSim, simPublicKey: sim.publicKey }))).toEqual([
      'evidence.binding',
    ]);
    const { nonce: _dropped, ...noNonce } = envelope;
    expect(
      failed(
        await verifyEvidence(parseEnvelope(noNonce, 'e'), { policy: allowSim, simPublicKey: sim.publicKey }),
      ),
    ).toEqual(['evidence.binding']);
  });

  it('fails policy fields sim evidence cannot show, and pcrs on evidence without a quote', async () => {
    const envelope = await collectEvidence({ nonce, sim: { privateKey: sim.privateKey } });
    const evidence = parseEnvelope(JSON.parse(JSON.stringify(envelope)), 'sim.json');
    const policy = parseAttestationPolicy({
      version: 1,
      allowSim: true,
      snp: {
        debug: false,
        migrationAgent: false,
        vmpl: 0,
        minTcb: { snp: 200 },
        measurements: ['ab'.repeat(48)],
      },
      pcrs: { '7': '00'.repeat(32) },
    });
    expect(failed(await verifyEvidence(evidence, { policy, simPublicKey: sim.publicKey }))).toEqual([
      'policy.snp.minTcb',
      'policy.snp.measurements',
      'policy.pcr',
    ]);
  });

  it('applies the sim measurement allow-list', async () => {
    const envelope = await collectEvidence({ nonce, sim: { privateKey: sim.privateKey } });
    const evidence = parseEnvelope(JSON.parse(JSON.stringify(envelope)), 'sim.json');
    const policy = parseAttestationPolicy({
      version: 1,
      allowSim: true,
      sim: { measurements: ['ab'.repeat(48)] },
    });
    expect(failed(await verifyEvidence(evidence, { policy, simPublicKey: sim.publicKey }))).toEqual([
      'policy.measurement',
    ]);
  });

  it('says no TEE, or TDX unsupported, instead of falling back to sim', async () => {
    const root = await mkdtemp(join(tmpdir(), 'sealtrain-root-'));
    dirs.push(root);
    const none = await collectEvidence({ nonce, root }).catch((e: unknown) => e);
    expect(isSealtrainError(none, 'ERR_ATTEST_NO_TEE')).toBe(true);
    expect(String((none as Error).message)).toMatch(/--sim/);
    await mkdir(join(root, 'dev'));
    await writeFile(join(root, 'dev/tdx_guest'), '');
    const tdx = await collectEvidence({ nonce, root }).catch((e: unknown) => e);
    expect(isSealtrainError(tdx, 'ERR_ATTEST_UNSUPPORTED')).toBe(true);
    expect(String((tdx as Error).message)).toMatch(/TDX/);
  });
});
