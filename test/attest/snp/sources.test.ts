import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  encodeSnpReport,
  parseSnpReport,
  validateSnpReport,
  vcekCachePath,
  verifySnpReport,
} from '../../../src/attest/snp/index.js';
import { failedIds, milanValid, PINNED } from './fixtures.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('certificate sources', () => {
  it('reads the VCEK from a cache folder by product, hwid and reported TCB', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sealtrain-snp-cache-'));
    dirs.push(dir);
    const r = parseSnpReport(milanValid.report, { product: 'Milan' });
    const path = vcekCachePath(dir, 'Milan', r.chipId, r.reportedTcb);
    expect(path).toBe(join(dir, 'Milan', r.chipId, '7308000000000003.der'));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, milanValid.vcek);
    const result = await verifySnpReport(milanValid.report, {
      now: PINNED,
      product: 'Milan',
      certCache: dir,
    });
    expect(failedIds(result.checks)).toEqual([]);
  });

  it('falls through an empty cache to the "how to supply" failure', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sealtrain-snp-cache-'));
    dirs.push(dir);
    const result = await verifySnpReport(milanValid.report, {
      now: PINNED,
      product: 'Milan',
      certCache: dir,
    });
    expect(failedIds(result.checks)).toEqual(['snp.chain.vcek', 'snp.signature']);
  });

  it('asks for the VLEK when a VLEK-signed report comes without it', async () => {
    const r = parseSnpReport(milanValid.report);
    const vlekSigned = encodeSnpReport({ ...r, keyInfo: { ...r.keyInfo, raw: 1 << 2 } });
    const result = await verifySnpReport(vlekSigned, { now: PINNED, product: 'Milan' });
    expect(result.signer).toBe('vlek');
    expect(failedIds(result.checks)).toEqual(['snp.chain.vlek', 'snp.signature']);
    expect(result.checks.find((c) => c.id === 'snp.chain.vlek')?.message).toMatch(/certificates\.vlek/);
  });

  it('fails snp.signer for a reserved SIGNING_KEY', async () => {
    const r = parseSnpReport(milanValid.report);
    const bytes = encodeSnpReport({ ...r, keyInfo: { ...r.keyInfo, raw: 7 << 2 } });
    const result = await verifySnpReport(bytes, { now: PINNED, certificates: { vcek: milanValid.vcek } });
    expect(failedIds(result.checks)).toEqual(['snp.signature', 'snp.signer']);
  });
});

describe('validateSnpReport', () => {
  const report = parseSnpReport(milanValid.report, { product: 'Milan' });

  it('checks nothing for an empty policy', () => {
    expect(validateSnpReport(report, {})).toEqual([]);
  });

  it('compares hex case-insensitively', () => {
    const checks = validateSnpReport(report, { measurements: [report.measurement.toUpperCase()] });
    expect(failedIds(checks)).toEqual([]);
  });

  it('fails a minimum FMC on a product without FMC, saying so', () => {
    const [check] = validateSnpReport(report, { minTcb: { fmc: 0 } });
    expect(check?.id).toBe('policy.min-tcb.fmc');
    expect(check?.ok).toBe(false);
    expect(check?.message).toMatch(/no fmc component on Milan/);
  });
});
