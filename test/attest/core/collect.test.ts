import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeCertTable, parseCertTable } from '../../../src/attest/collect/cert-table.js';
import { snpFromTsm } from '../../../src/attest/collect/collect-snp.js';
import { detectTee } from '../../../src/attest/collect/detect.js';
import { isSealtrainError } from '../../../src/errors/index.js';

const data = (p: string) => readFileSync(new URL(`../data/${p}`, import.meta.url));
const report = Buffer.from(data('snp-milan-valid/report_milan.hex').toString().replace(/\s+/g, ''), 'hex');
const vcek = data('snp-milan-valid/vcek_milan.der');
const [ask, ark] = data('amd/ask_ark_milan.pem')
  .toString()
  .split(/(?=-----BEGIN CERTIFICATE-----)/)
  .map((pem) => new X509Certificate(pem).raw);

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function fakeRoot(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'sealtrain-detect-'));
  dirs.push(root);
  for (const [p, content] of Object.entries(files)) {
    await mkdir(join(root, p, '..'), { recursive: true });
    if (p.endsWith('/')) await mkdir(join(root, p), { recursive: true });
    else await writeFile(join(root, p), content);
  }
  return root;
}

describe('detectTee', () => {
  it('finds an SEV-SNP guest with configfs-tsm', async () => {
    const root = await fakeRoot({ 'dev/sev-guest': '', 'sys/kernel/config/tsm/report/': '' });
    expect(await detectTee({ root })).toMatchObject({
      platform: 'sevsnp',
      supported: true,
      via: 'configfs-tsm',
    });
  });
  it('says configfs-tsm is needed when only /dev/sev-guest exists', async () => {
    const root = await fakeRoot({ 'dev/sev-guest': '' });
    const d = await detectTee({ root });
    expect(d).toMatchObject({ platform: 'sevsnp', supported: false });
    expect(d.summary).toMatch(/configfs-tsm/);
  });
  it('finds an Azure confidential VM by its Hyper-V vTPM', async () => {
    const root = await fakeRoot({
      'dev/tpmrm0': '',
      'sys/class/dmi/id/sys_vendor': 'Microsoft Corporation\n',
    });
    expect(await detectTee({ root })).toMatchObject({ platform: 'azure-cvm', supported: true, via: 'vtpm' });
  });
  it('reports TDX as detected but not supported', async () => {
    const root = await fakeRoot({ 'dev/tdx_guest': '', 'sys/kernel/config/tsm/report/': '' });
    expect(await detectTee({ root })).toMatchObject({ platform: 'tdx', supported: false });
  });
  it('finds nothing on a plain machine, and a TPM alone is not a CVM', async () => {
    expect((await detectTee({ root: await fakeRoot({ 'dev/tpmrm0': '' }) })).platform).toBe('none');
  });
});

describe('SEV-SNP certificate table and configfs-tsm output', () => {
  it('round-trips VCEK, ASK and ARK and ignores unknown GUIDs', () => {
    const table = encodeCertTable({ vcek, ask: ask ?? Buffer.alloc(0), ark: ark ?? Buffer.alloc(0) });
    const certs = parseCertTable(table);
    expect(new X509Certificate(certs.vcek as string).raw).toEqual(vcek);
    expect(new X509Certificate(certs.ark as string).subject).toMatch(/ARK-Milan/);
    const collected = snpFromTsm({ provider: 'sev_guest', outblob: report, auxblob: table });
    expect(collected.report).toEqual(report);
    expect(Object.keys(collected.certificates).sort()).toEqual(['ark', 'ask', 'vcek']);
  });
  it('refuses tables that point outside themselves or have no terminator', () => {
    const table = encodeCertTable({ vcek });
    const cut = table.subarray(0, table.length - 10);
    expect(() => parseCertTable(cut)).toThrow(/outside the table/);
    expect(() => parseCertTable(Buffer.alloc(10))).toThrow(/terminating entry/);
    const garbage = Buffer.from(table);
    garbage.fill(0x55, 48);
    expect(() => parseCertTable(garbage)).toThrow(/vcek is not a certificate/);
  });
  it('refuses a TDX provider and a short report', () => {
    try {
      snpFromTsm({ provider: 'tdx_guest', outblob: report });
    } catch (e) {
      expect(isSealtrainError(e, 'ERR_ATTEST_UNSUPPORTED')).toBe(true);
    }
    expect(() => snpFromTsm({ provider: 'sev_guest', outblob: report.subarray(1) })).toThrow(
      /1183-byte report/,
    );
  });
});
