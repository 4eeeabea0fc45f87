import { describe, expect, it } from 'vitest';
import {
  parseAzureCvmEvidence,
  validateAzureCvmPcrs,
  verifyAzureCvmEvidence,
} from '../../../src/attest/azure-cvm/index.js';
import { errorOf, FIXTURE } from './fixture.js';

const { pcrs } = verifyAzureCvmEvidence(parseAzureCvmEvidence(FIXTURE));
const pcr = (i: number) => FIXTURE.tpm_quote.pcrs[i] ?? '';

describe('validateAzureCvmPcrs', () => {
  it('checks only the PCRs the policy names, in index order, case-insensitively', () => {
    const checks = validateAzureCvmPcrs(pcrs, { 11: pcr(11).toUpperCase(), 7: pcr(7) });
    expect(checks.map((c) => [c.id, c.ok])).toEqual([
      ['policy.pcr.7', true],
      ['policy.pcr.11', true],
    ]);
    expect(validateAzureCvmPcrs(pcrs, {})).toEqual([]);
  });

  it('fails a PCR with another value, naming both', () => {
    const checks = validateAzureCvmPcrs(pcrs, { 0: pcr(0), 4: '00'.repeat(32) });
    expect(checks.filter((c) => !c.ok).map((c) => c.id)).toEqual(['policy.pcr.4']);
    expect(checks[1]?.message).toContain(pcr(4));
  });

  it('fails a PCR the quote does not cover', () => {
    const partial = new Map([...pcrs].filter(([i]) => i !== 9));
    expect(validateAzureCvmPcrs(partial, { 9: pcr(9) }).map((c) => [c.id, c.ok])).toEqual([
      ['policy.pcr.9', false],
    ]);
  });

  it('refuses a policy with a bad index or value', () => {
    expect(errorOf(() => validateAzureCvmPcrs(pcrs, { 24: pcr(0) }))).toMatchObject({
      code: 'ERR_ATTEST_POLICY_INVALID',
      field: 'pcrs.24',
    });
    expect(errorOf(() => validateAzureCvmPcrs(pcrs, { 1: 'abc' }))).toMatchObject({
      code: 'ERR_ATTEST_POLICY_INVALID',
      field: 'pcrs.1',
    });
  });
});
