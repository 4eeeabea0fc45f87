import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, parseAttestationPolicy } from '../../../src/attest/policy.js';
import { SealtrainError } from '../../../src/errors/index.js';

function problemsOf(value: unknown): string {
  try {
    parseAttestationPolicy(value, 'p.json');
  } catch (e) {
    expect(e).toBeInstanceOf(SealtrainError);
    expect((e as SealtrainError).code).toBe('ERR_ATTEST_POLICY_INVALID');
    return (e as SealtrainError).message;
  }
  return 'accepted';
}

describe('attestation policy', () => {
  it('accepts a full policy and lower-cases hex', () => {
    const p = parseAttestationPolicy({
      version: 1,
      snp: { debug: false, vmpl: 0, minTcb: { microcode: 115 }, measurements: ['AB'.repeat(48)] },
      pcrs: { '7': '00'.repeat(32) },
      maa: { issuers: ['https://sharedeus2.eus2.attest.azure.net'] },
    });
    expect(p.allowSim).toBe(false);
    expect(p.snp?.measurements).toEqual(['ab'.repeat(48)]);
  });

  it('names every unknown or wrong field', () => {
    expect(problemsOf({ version: 1, snp: { debgu: false } })).toMatch(/p\.json.*snp.*debgu/);
    expect(problemsOf({ version: 1, snp: { minTcb: { microcode: 256 } } })).toMatch(/snp\.minTcb\.microcode/);
    expect(problemsOf({ version: 1, snp: { measurements: ['abc'] } })).toMatch(
      /snp\.measurements\.0: must be 48 bytes/,
    );
    expect(problemsOf({ version: 1, pcrs: { '24': '00'.repeat(32) } })).toMatch(/pcrs/);
    expect(problemsOf({ version: 1, maa: { issuers: ['http://x.example'] } })).toMatch(/maa\.issuers\.0/);
    expect(problemsOf({ version: 2 })).toMatch(/version/);
    expect(problemsOf({})).toMatch(/version/);
  });

  it('ships a default that rejects sim and requires debug and migration agent off', () => {
    expect(DEFAULT_POLICY.allowSim).toBe(false);
    expect(DEFAULT_POLICY.snp).toMatchObject({ debug: false, migrationAgent: false });
  });
});
