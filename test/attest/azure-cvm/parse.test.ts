import { describe, expect, it } from 'vitest';
import {
  parseAzureCvmEvidence,
  parseHclReport,
  parseTpmSignature,
  parseTpmsAttest,
  TPM_ST_ATTEST_QUOTE,
} from '../../../src/attest/azure-cvm/index.js';
import { copy, errorOf, FIXTURE, hclBytes, withHcl, withMessage } from './fixture.js';

const message = () => Buffer.from(FIXTURE.tpm_quote.message, 'hex');
const RUNTIME = 32 + 1184;

describe('parseTpmsAttest', () => {
  it('reads the fixture quote field by field', () => {
    const a = parseTpmsAttest(message());
    expect(a.magic).toBe(0xff544347);
    expect(a.type).toBe(TPM_ST_ATTEST_QUOTE);
    expect(a.qualifiedSigner.length).toBe(34);
    expect(a.extraData.toString()).toBe('challenge');
    expect(a.clockInfo).toEqual({ clock: 0x359baen, resetCount: 2, restartCount: 0, safe: true });
    expect(a.firmwareVersion).toBe(0x2020031200120003n);
    expect(a.pcrSelect).toEqual([{ hashAlg: 0x000b, pcrs: Array.from({ length: 24 }, (_, i) => i) }]);
    expect(a.pcrDigest.toString('hex')).toBe(
      'cfa3a9112493e8c8741c1d895ced6d05a9ea19a24a02a44a8b02eaf22a1b143f',
    );
  });

  it('names the field where a truncated quote ends, for every length', () => {
    const full = message();
    const fields = new Set<string>();
    for (let n = 0; n < full.length; n++) {
      const e = errorOf(() => parseAzureCvmEvidence(withMessage(full.subarray(0, n))));
      expect(e.code).toBe('ERR_ATTEST_MALFORMED');
      fields.add(e.field.replace(/\[\d+\]/, '[i]'));
    }
    expect([...fields]).toEqual(
      expect.arrayContaining([
        'tpm_quote.message',
        'TPMS_ATTEST.magic',
        'TPMS_ATTEST.qualifiedSigner',
        'TPMS_ATTEST.extraData.size',
        'TPMS_ATTEST.clockInfo.clock',
        'TPMS_ATTEST.firmwareVersion',
        'TPMS_ATTEST.pcrSelect.count',
        'TPMS_ATTEST.pcrSelect[i].pcrSelect',
        'TPMS_ATTEST.pcrDigest',
      ]),
    );
  });

  it('refuses trailing bytes and oversized fields', () => {
    expect(errorOf(() => parseTpmsAttest(Buffer.concat([message(), Buffer.from([0])])))).toMatchObject({
      code: 'ERR_ATTEST_MALFORMED',
      field: 'TPMS_ATTEST',
    });
    const big = message();
    big.writeUInt16BE(0x1000, 6);
    expect(errorOf(() => parseTpmsAttest(big)).field).toBe('TPMS_ATTEST.qualifiedSigner');
  });
});

describe('parseTpmSignature', () => {
  it('reads a bare RSA signature as RSASSA SHA-256 and refuses other sizes and hashes', () => {
    const raw = Buffer.from(FIXTURE.tpm_quote.signature, 'hex');
    expect(parseTpmSignature(raw)).toMatchObject({ scheme: 'rsassa', hashAlg: 0x000b });
    expect(errorOf(() => parseTpmSignature(raw.subarray(0, 100))).field).toBe('tpm_quote.signature');
    const sha1 = Buffer.concat([Buffer.from([0x00, 0x14, 0x00, 0x04, 0x01, 0x00]), raw]);
    expect(errorOf(() => parseTpmSignature(sha1)).field).toBe('tpm_quote.signature');
  });
});

describe('parseHclReport', () => {
  it('reads header, SNP report and runtime data of the fixture', () => {
    const hcl = parseHclReport(hclBytes());
    expect(hcl.header).toMatchObject({ version: 1, reportSize: 2346, requestType: 2, status: 0 });
    expect(hcl.snpReport.length).toBe(1184);
    expect(hcl.runtimeData).toMatchObject({ dataSize: 1130, version: 1, reportType: 2, hashType: 1 });
    expect(hcl.runtimeData.variableData.length).toBe(1110);
    expect(Object.keys(hcl.runtime).sort()).toEqual(['keys', 'user-data', 'vm-configuration']);
  });

  it('names the field a truncated HCL report ends in', () => {
    const bytes = hclBytes();
    const at = (n: number) => errorOf(() => parseAzureCvmEvidence(withHcl(bytes.subarray(0, n))));
    expect(at(10)).toMatchObject({ code: 'ERR_ATTEST_MALFORMED', field: 'hcl_report.header.report_size' });
    expect(at(1000).field).toBe('hcl_report.hw_report');
    expect(at(RUNTIME + 14).field).toBe('hcl_report.runtime_data.report_data_hash_type');
    expect(at(2000).field).toBe('hcl_report.runtime_data.variable_data');
    expect(at(2340).field).toBe('hcl_report.runtime_data.variable_data');
    expect(at(2346).code).toBe('no error');
  });

  it('refuses a wrong signature, TDX, bad sizes, non-JSON and a missing HCLAkPub', () => {
    const edit = (fn: (b: Buffer) => void) => {
      const b = hclBytes();
      fn(b);
      return errorOf(() => parseAzureCvmEvidence(withHcl(b)));
    };
    expect(edit((b) => b.write('XCLA', 0)).field).toBe('hcl_report.header.signature');
    expect(edit((b) => b.writeUInt32LE(4, RUNTIME + 8))).toMatchObject({
      code: 'ERR_ATTEST_UNSUPPORTED',
      field: 'hcl_report.runtime_data.report_type',
    });
    expect(edit((b) => b.writeUInt32LE(100, RUNTIME)).field).toBe('hcl_report.runtime_data.data_size');
    const huge = (b: Buffer) => {
      b.writeUInt32LE(0xffffffff, RUNTIME);
      b.writeUInt32LE(0xffff0000, RUNTIME + 16);
    };
    expect(edit(huge).field).toBe('hcl_report.runtime_data.variable_data');
    expect(edit((b) => b.writeUInt32LE(3000, 8)).field).toBe('hcl_report.header.report_size');
    expect(edit((b) => b.write('!', RUNTIME + 20)).field).toBe('hcl_report.variable_data');
    expect(edit((b) => b.write('HCLXkPub', b.indexOf('HCLAkPub'))).field).toBe(
      'hcl_report.variable_data.keys',
    );
    expect(edit((b) => b.write('"kty":"EC" ', b.indexOf('"kty":"RSA"'))).field).toBe(
      'hcl_report.variable_data.keys[0]',
    );
  });
});

describe('parseAzureCvmEvidence', () => {
  it('reads the fixture as an object, JSON text or bytes', () => {
    const text = JSON.stringify(FIXTURE);
    for (const input of [FIXTURE, text, Buffer.from(text)]) {
      const e = parseAzureCvmEvidence(input);
      expect(e.version).toBe(1);
      expect(e.quote.pcrs.length).toBe(24);
      expect(e.vcek?.length).toBeGreaterThan(1000);
      expect(e.akPub).toBeUndefined();
    }
  });

  it('names the field for wrong shapes and encodings', () => {
    const cases: [unknown, string, string][] = [
      ['not json', 'ERR_ATTEST_MALFORMED', 'the evidence'],
      [[], 'ERR_ATTEST_MALFORMED', 'the evidence'],
      [{ ...copy(), version: 3 }, 'ERR_ATTEST_UNSUPPORTED', 'version'],
      [{ ...copy(), extra: 1 }, 'ERR_ATTEST_MALFORMED', 'extra'],
      [{ ...copy(), hcl_report: 'not base64!' }, 'ERR_ATTEST_MALFORMED', 'hcl_report'],
      [{ ...copy(), hcl_report: 42 }, 'ERR_ATTEST_MALFORMED', 'hcl_report'],
      [{ ...copy(), vcek: 'AAAA' }, 'ERR_ATTEST_MALFORMED', 'vcek'],
      [{ ...copy(), ak_pub: 'AAAA' }, 'ERR_ATTEST_MALFORMED', 'ak_pub'],
      [{ ...copy(), tpm_quote: null }, 'ERR_ATTEST_MALFORMED', 'tpm_quote'],
      [
        { ...copy(), tpm_quote: { ...copy().tpm_quote, message: 'xyz' } },
        'ERR_ATTEST_MALFORMED',
        'tpm_quote.message',
      ],
      [
        { ...copy(), tpm_quote: { ...copy().tpm_quote, signature: '' } },
        'ERR_ATTEST_MALFORMED',
        'tpm_quote.signature',
      ],
      [
        { ...copy(), tpm_quote: { ...copy().tpm_quote, pcrs: 'ab' } },
        'ERR_ATTEST_MALFORMED',
        'tpm_quote.pcrs',
      ],
      [
        { ...copy(), tpm_quote: { ...copy().tpm_quote, pcrs: [1] } },
        'ERR_ATTEST_MALFORMED',
        'tpm_quote.pcrs[0]',
      ],
      [
        { ...copy(), tpm_quote: { ...copy().tpm_quote, nonce: '' } },
        'ERR_ATTEST_MALFORMED',
        'tpm_quote.nonce',
      ],
    ];
    for (const [input, code, field] of cases)
      expect(errorOf(() => parseAzureCvmEvidence(input))).toMatchObject({ code, field });
  });

  it('never crashes on random bytes in any field', () => {
    const noise = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 131 + 7) % 256));
    for (const n of [0, 1, 31, 32, 1216, 1236, 2600]) {
      expect(['ERR_ATTEST_MALFORMED', 'ERR_ATTEST_UNSUPPORTED']).toContain(
        errorOf(() => parseAzureCvmEvidence(withHcl(noise(n)))).code,
      );
      const m = errorOf(() => parseAzureCvmEvidence(withMessage(noise(n))));
      expect(['ERR_ATTEST_MALFORMED', 'no error']).toContain(m.code);
    }
  });
});
