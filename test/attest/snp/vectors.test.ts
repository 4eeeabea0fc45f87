import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAttestationPolicy } from '../../../src/attest/policy.js';
import {
  type SnpProduct,
  type SnpRootSet,
  validateSnpReport,
  verifySnpReport,
} from '../../../src/attest/snp/index.js';
import { failedIds } from './fixtures.js';

// One case per file, made by test/attest/gen/snp/generate.mjs: inputs and the exact failed check ids.
interface Vector {
  readonly description: string;
  readonly now: string;
  readonly product?: SnpProduct;
  readonly report: string;
  readonly certificates: Record<string, string>;
  readonly roots: Partial<Record<SnpProduct, SnpRootSet>>;
  readonly policy?: unknown;
  readonly expectFailed: string[];
}

const DIR = new URL('../../vectors/attest-snp/', import.meta.url);
const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

describe('SEV-SNP vectors', () => {
  it('has the vector files', () => {
    expect(files.length).toBeGreaterThanOrEqual(40);
  });

  for (const file of files) {
    it(file, async () => {
      const v = JSON.parse(readFileSync(new URL(file, DIR), 'utf8')) as Vector;
      const result = await verifySnpReport(Buffer.from(v.report, 'hex'), {
        now: new Date(v.now),
        certificates: v.certificates,
        roots: v.roots,
        ...(v.product === undefined ? {} : { product: v.product }),
      });
      const checks = [...result.checks];
      if (v.policy !== undefined) {
        const policy = parseAttestationPolicy({ version: 1, snp: v.policy }, file).snp ?? {};
        checks.push(...validateSnpReport(result.report, policy));
      }
      expect(failedIds(checks), v.description).toEqual(v.expectFailed);
    });
  }
});
