import { SealtrainError } from '../../errors/index.js';
import type { Check } from '../check.js';

/**
 * Validates quoted SHA-256 PCR values (from `verifyAzureCvmEvidence`) against expected ones, one
 * check `policy.pcr.<n>` per expected index, in index order. An index the policy leaves out is not
 * checked; an expected index the quote does not cover fails. Hex is compared case-insensitively. A
 * key that is not a PCR index or a value that is not 64 hex digits is `ERR_ATTEST_POLICY_INVALID`.
 */
export function validateAzureCvmPcrs(
  pcrs: ReadonlyMap<number, Uint8Array>,
  expected: Readonly<Record<number, string>>,
): Check[] {
  const wanted = Object.entries(expected).map(([key, value]) => {
    const index = Number(key);
    if (!/^\d{1,2}$/.test(key) || index > 23)
      throw new SealtrainError(
        'ERR_ATTEST_POLICY_INVALID',
        `Policy pcrs.${key} is not a PCR index 0 to 23.`,
        {
          details: { field: `pcrs.${key}` },
        },
      );
    if (typeof value !== 'string' || !/^[0-9a-fA-F]{64}$/.test(value))
      throw new SealtrainError(
        'ERR_ATTEST_POLICY_INVALID',
        `Policy pcrs.${key} is not a SHA-256 value (64 hex digits).`,
        { details: { field: `pcrs.${key}` } },
      );
    return { index, value: value.toLowerCase() };
  });
  wanted.sort((a, b) => a.index - b.index);
  return wanted.map(({ index, value }) => {
    const id = `policy.pcr.${index}`;
    const got = pcrs.get(index);
    if (got === undefined)
      return { id, ok: false, message: `PCR ${index} is not in the quote; wanted ${value}.` };
    const hex = Buffer.from(got).toString('hex');
    return hex === value
      ? { id, ok: true, message: `PCR ${index} is ${hex}.` }
      : { id, ok: false, message: `PCR ${index} is ${hex}, not ${value}.` };
  });
}
