import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { reportDataFor, runtimeBinding } from '../../../src/attest/binding.js';
import { parseEnvelope, parseEvidence } from '../../../src/attest/evidence.js';
import { isSealtrainError } from '../../../src/errors/index.js';

const data = (p: string) => readFileSync(new URL(`../data/${p}`, import.meta.url));
const reportHex = data('snp-milan-valid/report_milan.hex');
const report = Buffer.from(reportHex.toString().replace(/\s+/g, ''), 'hex');

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (isSealtrainError(e)) return `${e.code} ${e.message}`;
    throw e;
  }
  return 'no error';
}

describe('parseEvidence', () => {
  it('does not take a 1184-byte envelope for a raw report', () => {
    const env = {
      'sealtrain-evidence': 1,
      kind: 'sim',
      createdAt: '2026-11-23T10:00:00Z',
      sim: { payload: '', signature: '' },
    };
    const text = JSON.stringify(env);
    const padded = Buffer.from(text.replace('}}', `}${' '.repeat(1184 - text.length)}}`));
    expect(padded.length).toBe(1184);
    expect(parseEvidence(padded, 'p.json').kind).toBe('sim');
  });

  it('reads a raw 1184-byte report, its hex text, Azure CVM JSON and an MAA token', () => {
    expect(parseEvidence(report, 'r.bin')).toMatchObject({ kind: 'sevsnp', report });
    expect(parseEvidence(reportHex, 'r.hex')).toMatchObject({ kind: 'sevsnp', report });
    expect(parseEvidence(data('azure-cvm-snp/evidence-v1.json'), 'e.json').kind).toBe('azure-cvm');
    const token = parseEvidence(data('maa/attestation.txt'), 't.jwt');
    expect(token.kind).toBe('maa');
  });

  it('reads an envelope with nonce, runtime key and certificates', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const jwk = publicKey.export({ format: 'jwk' });
    const vcek = data('snp-milan-debug/vcek.testcer');
    const env = {
      'sealtrain-evidence': 1,
      kind: 'sevsnp',
      createdAt: new Date().toISOString(),
      nonce: Buffer.from('abc').toString('base64url'),
      runtime: { keys: [jwk] },
      sevsnp: {
        report: report.toString('base64'),
        certificates: { ark: data('amd/ask_ark_milan.pem').toString() },
      },
    };
    const ev = parseEvidence(Buffer.from(JSON.stringify(env)), 'env.json');
    expect(ev).toMatchObject({ kind: 'sevsnp', nonce: Buffer.from('abc'), runtimeKeys: [jwk] });
    expect(vcek.length).toBeGreaterThan(0);
  });

  it('refuses bad input with a coded error naming the field', () => {
    expect(codeOf(() => parseEvidence(report.subarray(0, 1000), 'short.bin'))).toMatch(
      /^ERR_ATTEST_MALFORMED .*short\.bin/,
    );
    expect(codeOf(() => parseEvidence(Buffer.alloc(2 * 1024 * 1024, 0x41), 'big'))).toMatch(
      /^ERR_ATTEST_MALFORMED .*limit/,
    );
    expect(codeOf(() => parseEvidence(Buffer.from('{"a":1}'), 'x.json'))).toMatch(/^ERR_ATTEST_MALFORMED/);
    const base = {
      'sealtrain-evidence': 1,
      kind: 'sevsnp',
      createdAt: '2026-11-23T10:00:00Z',
      sevsnp: { report: report.toString('base64') },
    };
    expect(codeOf(() => parseEnvelope({ ...base, 'sealtrain-evidence': 2 }, 'e'))).toMatch(
      /^ERR_ATTEST_UNSUPPORTED .*version 2/,
    );
    expect(codeOf(() => parseEnvelope({ ...base, kind: 'tdx' }, 'e'))).toMatch(
      /^ERR_ATTEST_UNSUPPORTED .*"tdx"/,
    );
    expect(codeOf(() => parseEnvelope({ ...base, extra: 1 }, 'e'))).toMatch(/^ERR_ATTEST_MALFORMED .*extra/);
    expect(codeOf(() => parseEnvelope({ ...base, sevsnp: { report: 'not base64!' } }, 'e'))).toMatch(
      /sevsnp\.report is not base64/,
    );
    expect(codeOf(() => parseEnvelope({ ...base, sevsnp: { report: 'AAAA' } }, 'e'))).toMatch(
      /sevsnp\.report is 3 bytes/,
    );
    expect(codeOf(() => parseEnvelope({ ...base, nonce: '' }, 'e'))).toMatch(/nonce must be 1 to 64 bytes/);
    expect(
      codeOf(() =>
        parseEnvelope(
          { ...base, sevsnp: { report: report.toString('base64'), certificates: { vcek: 'garbage' } } },
          'e',
        ),
      ),
    ).toMatch(/certificates\.vcek is not a PEM/);
    expect(codeOf(() => parseEnvelope({ ...base, createdAt: 'yesterday' }, 'e'))).toMatch(
      /createdAt must be an ISO/,
    );
    expect(codeOf(() => parseEnvelope({ ...base, sevsnp: { ...base.sevsnp, extra: 1 } }, 'e'))).toMatch(
      /sevsnp\.extra/,
    );
    const two = [1, 2].map(() =>
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }),
    );
    expect(codeOf(() => parseEnvelope({ ...base, runtime: { keys: two } }, 'e'))).toMatch(
      /exactly one public JWK/,
    );
    expect(codeOf(() => parseEnvelope({ ...base, runtime: { keys: two.slice(1), more: 1 } }, 'e'))).toMatch(
      /runtime\.more/,
    );
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(
      codeOf(() =>
        parseEnvelope({ ...base, runtime: { keys: [privateKey.export({ format: 'jwk' })] } }, 'e'),
      ),
    ).toMatch(/private key material/);
    expect(
      codeOf(() =>
        parseEnvelope({ ...base, runtime: { keys: [{ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' }] } }, 'e'),
      ),
    ).toMatch(/not a usable public key/);
  });
});

describe('runtime binding', () => {
  it('is SHA-256(nonce ‖ SPKI) and changes with the nonce or the key', () => {
    const a = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const b = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const n = Buffer.from('nonce-1');
    expect(runtimeBinding(n, a.publicKey)).toEqual(runtimeBinding(n, a.privateKey));
    expect(runtimeBinding(n, a.publicKey)).not.toEqual(runtimeBinding(n, b.publicKey));
    expect(runtimeBinding(n, a.publicKey)).not.toEqual(runtimeBinding(Buffer.from('nonce-2'), a.publicKey));
    const rd = reportDataFor(n, a.publicKey);
    expect(rd.length).toBe(64);
    expect(rd.subarray(32)).toEqual(Buffer.alloc(32));
  });

  it('is the nonce itself without a runtime key, and refuses empty or over-long nonces', () => {
    expect(runtimeBinding(Buffer.from('challenge'))).toEqual(Buffer.from('challenge'));
    expect(reportDataFor(Buffer.from('ab')).subarray(0, 3)).toEqual(Buffer.from([0x61, 0x62, 0]));
    expect(() => runtimeBinding(Buffer.alloc(0))).toThrow(/1 to 64 bytes, not 0/);
    expect(() => runtimeBinding(Buffer.alloc(65))).toThrow(/not 65/);
  });
});
