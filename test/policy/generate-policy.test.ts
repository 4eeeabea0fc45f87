import { generateKeyPairSync } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Claims,
  collectEvidence,
  DEFAULT_POLICY,
  parseEvidence,
  readCertificatesDir,
  type Verdict,
  verifyEvidence,
} from '../../src/attest/index.js';
import { isSealtrainError } from '../../src/errors/index.js';
import {
  type ClaimNode,
  evaluatePolicy,
  explainText,
  failedConditions,
  generatePolicy,
  parseReleasePolicy,
  policyAllowsSim,
} from '../../src/policy/index.js';

const DATA = new URL('../attest/data/', import.meta.url).pathname;
const SNP_AT = new Date('2025-06-01T00:00:00Z');
const BROKER = 'https://127.0.0.1:8443';
const MEASUREMENT =
  '7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f';
let dir: string;
let milan: Verdict;

async function verifyMilan(file: string, certs: string): Promise<Verdict> {
  const evidence = parseEvidence(await readFile(join(DATA, file)), file);
  return verifyEvidence(evidence, { certificates: await readCertificatesDir(certs), now: SNP_AT });
}

function withTee(claims: Claims, changes: Record<string, unknown>): Claims {
  const tee = claims['x-ms-isolation-tee'] as Record<string, unknown>;
  return { ...claims, 'x-ms-isolation-tee': { ...tee, ...changes } } as Claims;
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (isSealtrainError(error)) return `${error.code}: ${error.message}`;
    throw error;
  }
  return 'no error';
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealtrain-policy-'));
  await copyFile(join(DATA, 'snp-milan-valid/vcek_milan.der'), join(dir, 'vcek.der'));
  await copyFile(join(DATA, 'snp-milan-valid/cert_chain_milan'), join(dir, 'cert_chain'));
  milan = await verifyMilan('snp-milan-valid/report_milan.hex', dir);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('generatePolicy from the real Milan report', () => {
  it('pins TEE type, measurement, debug off and the reported TCB as minimums', () => {
    expect(milan.ok).toBe(true);
    const policy = generatePolicy(milan, { authority: BROKER });
    expect(policy).toEqual({
      version: '1.0.0',
      anyOf: [
        {
          authority: BROKER,
          allOf: [
            { claim: 'x-ms-isolation-tee.x-ms-attestation-type', equals: 'sevsnpvm' },
            { claim: 'x-ms-isolation-tee.x-ms-sevsnpvm-launchmeasurement', equals: MEASUREMENT },
            { claim: 'x-ms-isolation-tee.x-ms-sevsnpvm-is-debuggable', equals: false },
            { claim: 'x-ms-isolation-tee.x-ms-sevsnpvm-bootloader-svn', greaterOrEquals: 3 },
            { claim: 'x-ms-isolation-tee.x-ms-sevsnpvm-tee-svn', greaterOrEquals: 0 },
            { claim: 'x-ms-isolation-tee.x-ms-sevsnpvm-snpfw-svn', greaterOrEquals: 8 },
            { claim: 'x-ms-isolation-tee.x-ms-sevsnpvm-microcode-svn', greaterOrEquals: 115 },
          ],
        },
      ],
    });
    expect(policyAllowsSim(policy)).toBe(false);
    expect(parseReleasePolicy(JSON.stringify(policy))).toEqual(policy);
  });

  it('allows the evidence it came from', () => {
    const policy = generatePolicy(milan, { authority: BROKER });
    const d = evaluatePolicy(policy, milan.claims, { authority: `${BROKER}/` });
    expect(d.allowed).toBe(true);
  });

  it('denies a changed measurement, naming the measurement condition', () => {
    const policy = generatePolicy(milan, { authority: BROKER });
    const other = `00${MEASUREMENT.slice(2)}`;
    const d = evaluatePolicy(policy, withTee(milan.claims, { 'x-ms-sevsnpvm-launchmeasurement': other }), {
      authority: BROKER,
    });
    expect(d.allowed).toBe(false);
    const failed = failedConditions(d) as ClaimNode[];
    expect(failed.map((n) => [n.path, n.claim])).toEqual([
      ['anyOf[0].allOf[1]', 'x-ms-isolation-tee.x-ms-sevsnpvm-launchmeasurement'],
    ]);
    expect(failed[0]?.reason).toBe(`found "${other}"; wanted equals "${MEASUREMENT}"`);
    expect(explainText(d)).toContain('FAIL x-ms-isolation-tee.x-ms-sevsnpvm-launchmeasurement: found "00');
  });

  it('denies an older microcode and a debuggable VM, each by its own condition', () => {
    const policy = generatePolicy(milan, { authority: BROKER });
    const claims = withTee(milan.claims, {
      'x-ms-sevsnpvm-microcode-svn': 114,
      'x-ms-sevsnpvm-is-debuggable': true,
    });
    const failed = failedConditions(evaluatePolicy(policy, claims, { authority: BROKER })) as ClaimNode[];
    expect(failed.map((n) => n.reason)).toEqual([
      'found true; wanted equals false',
      'found 114; wanted greaterOrEquals 115',
    ]);
  });

  it('fits an MAA token shape too: the same claims nested only under x-ms-isolation-tee', () => {
    const policy = generatePolicy(milan, { authority: BROKER });
    const tee = milan.claims['x-ms-isolation-tee'] as Claims;
    const tokenLike: Claims = { 'x-ms-attestation-type': 'azurevm', 'x-ms-isolation-tee': tee };
    expect(evaluatePolicy(policy, tokenLike, { authority: BROKER }).allowed).toBe(true);
  });

  it('pins the compliance status when the claims carry one (MAA tokens)', () => {
    const policy = generatePolicy(
      withTee(milan.claims, { 'x-ms-compliance-status': 'azure-compliant-cvm' }),
      {
        authority: BROKER,
      },
    );
    const rule = policy.anyOf[0];
    expect(rule && 'allOf' in rule ? rule.allOf[1] : undefined).toEqual({
      claim: 'x-ms-isolation-tee.x-ms-compliance-status',
      equals: 'azure-compliant-cvm',
    });
  });
});

describe('generatePolicy refuses', () => {
  it('a verdict that did not verify (the genuine debug report), naming the failed checks', async () => {
    const certs = await mkdtemp(join(tmpdir(), 'sealtrain-policy-debug-'));
    await copyFile(join(DATA, 'snp-milan-debug/vcek.testcer'), join(certs, 'vcek.der'));
    await copyFile(join(DATA, 'amd/ask_ark_milan.pem'), join(certs, 'ask_ark.pem'));
    const debug = await verifyMilan('snp-milan-debug/attestation.bin', certs);
    await rm(certs, { recursive: true, force: true });
    expect(codeOf(() => generatePolicy(debug, { authority: BROKER }))).toBe(
      'ERR_ATTEST_REJECTED: Cannot generate a release policy from evidence that did not verify: policy.debug.',
    );
    expect(codeOf(() => generatePolicy(debug.claims, { authority: BROKER }))).toBe(
      'ERR_ATTEST_REJECTED: Cannot generate a release policy from debuggable evidence (x-ms-isolation-tee.x-ms-sevsnpvm-is-debuggable is true): its memory is open to the host.',
    );
  });

  it('claims without a measurement, a TCB value, or TEE claims at all', () => {
    expect(
      codeOf(() =>
        generatePolicy(withTee(milan.claims, { 'x-ms-sevsnpvm-launchmeasurement': undefined }), {
          authority: BROKER,
        }),
      ),
    ).toBe(
      'ERR_ATTEST_MALFORMED: Cannot generate a release policy: the claims have no launch measurement at x-ms-isolation-tee.x-ms-sevsnpvm-launchmeasurement.',
    );
    expect(
      codeOf(() =>
        generatePolicy(withTee(milan.claims, { 'x-ms-sevsnpvm-tee-svn': '0' }), { authority: BROKER }),
      ),
    ).toBe(
      'ERR_ATTEST_MALFORMED: Cannot generate a release policy: the claims have no TCB security version number at x-ms-isolation-tee.x-ms-sevsnpvm-tee-svn.',
    );
    expect(codeOf(() => generatePolicy({ 'x-ms-attestation-type': 'sevsnpvm' }, { authority: BROKER }))).toBe(
      'ERR_ATTEST_MALFORMED: Cannot generate a release policy: the claims have no isolation TEE claims object at x-ms-isolation-tee.',
    );
  });

  it('another TEE type, a bad authority, and a kind that contradicts the claims', () => {
    expect(
      codeOf(() =>
        generatePolicy(withTee(milan.claims, { 'x-ms-attestation-type': 'tdxvm' }), { authority: BROKER }),
      ),
    ).toBe(
      'ERR_ATTEST_UNSUPPORTED: Cannot generate a release policy for TEE type "tdxvm" (x-ms-isolation-tee.x-ms-attestation-type); sevsnpvm and sim are supported.',
    );
    expect(codeOf(() => generatePolicy(milan, { authority: 'http://127.0.0.1' }))).toBe(
      'ERR_POLICY_INVALID: Release policy generated is invalid: anyOf[0].authority: "http://127.0.0.1" is not an https:// URL without credentials, query or fragment.',
    );
    expect(codeOf(() => generatePolicy(milan.claims, { authority: BROKER, kind: 'sim' }))).toBe(
      'ERR_USAGE_INVALID: generatePolicy: the evidence kind is sim but the TEE attestation type is "sevsnpvm".',
    );
  });
});

describe('generatePolicy from sim evidence', () => {
  it('allows only the attestation type sim, marks it, and does not admit real hardware', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const now = new Date('2026-01-01T00:00:00Z');
    const envelope = await collectEvidence({ nonce: Buffer.from('n'), sim: { privateKey }, now });
    const evidence = parseEvidence(Buffer.from(JSON.stringify(envelope)), 'sim.json');
    const verdict = await verifyEvidence(evidence, {
      simPublicKey: publicKey,
      now,
      policy: { ...DEFAULT_POLICY, allowSim: true },
    });
    expect(verdict.ok).toBe(true);
    const policy = generatePolicy(verdict, { authority: BROKER });
    const rule = policy.anyOf[0];
    const allOf = rule && 'allOf' in rule ? rule.allOf : [];
    expect(allOf.slice(0, 2)).toEqual([
      { claim: 'x-ms-attestation-type', equals: 'sim' },
      { claim: 'x-ms-isolation-tee.x-ms-attestation-type', equals: 'sim' },
    ]);
    expect(allOf).toContainEqual({ claim: 'x-ms-isolation-tee.x-ms-sim-is-debuggable', equals: false });
    expect(policyAllowsSim(policy)).toBe(true);
    expect(evaluatePolicy(policy, verdict.claims, { authority: BROKER }).allowed).toBe(true);
    expect(evaluatePolicy(policy, milan.claims, { authority: BROKER }).allowed).toBe(false);
  });
});
