// What an SEV-SNP guest sends to MAA's /attest/SevSnpVm: runtime data whose SHA-256 is the
// report's REPORT_DATA, the report and its VCEK chain as MAA reads them, and the chain completed
// from the pinned AMD roots when the host sent only the VCEK.

import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { AMD_ROOTS } from '../../../src/attest/index.js';
import { maaCertChain, maaRuntimeData, maaSevSnpVmBody } from '../../../src/attest/maa/sev-snp-vm-request.js';
import { rejectsWith } from '../../helpers/rejects.js';
import { MILAN_TCB, milanPki, milanReport } from '../../helpers/snp-milan.js';

const TCB = MILAN_TCB;
const CHIP_ID = createHash('sha512').update('request chip').digest('hex');
const MEASUREMENT = createHash('sha384').update('request image').digest('hex');
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const fp = (pem: string) => new X509Certificate(pem).fingerprint256;
const certs = (pem: string) => pem.split(/(?<=-----END CERTIFICATE-----)\n?/).filter((c) => c.trim() !== '');

describe('the MAA SevSnpVm request', () => {
  it('binds the runtime key and nonce: REPORT_DATA is SHA-256 of the exact runtime bytes, then zeros', () => {
    const nonce = Buffer.from('a fresh nonce');
    const { json, reportData } = maaRuntimeData(rsa.privateKey, nonce);
    const runtime = JSON.parse(json.toString('utf8'));
    expect(runtime.keys).toEqual([
      { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'runtime', key_ops: ['encrypt'] },
    ]);
    expect(runtime['client-payload']).toEqual({ nonce: nonce.toString('base64') });
    expect(reportData.subarray(0, 32)).toEqual(createHash('sha256').update(json).digest());
    expect(reportData.subarray(32)).toEqual(Buffer.alloc(32));
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    expect(() => maaRuntimeData(ec, nonce)).toThrow(/RSA key/);
  });

  it('sends the report, the chain and the runtime data base64url, as MAA reads them', () => {
    const report = Buffer.alloc(1184, 7);
    const body = maaSevSnpVmBody(report, 'PEM CHAIN\n', Buffer.from('{"keys":[]}'));
    const inner = JSON.parse(Buffer.from(String(body.report), 'base64url').toString('utf8'));
    expect(Buffer.from(inner.SnpReport, 'base64url')).toEqual(report);
    expect(Buffer.from(inner.VcekCertChain, 'base64url').toString()).toBe('PEM CHAIN\n');
    expect(JSON.parse(Buffer.from(inner.Endorsements, 'base64url').toString())).toEqual({});
    expect(body.runtimeData).toEqual({
      data: Buffer.from('{"keys":[]}').toString('base64url'),
      dataType: 'JSON',
    });
  });

  it("completes the host's VCEK with AMD's pinned ASK and ARK for the report's product line", () => {
    const pki = milanPki(CHIP_ID);
    const report = milanReport(Buffer.alloc(64), { measurement: MEASUREMENT, chipId: CHIP_ID, tcb: TCB });
    const chain = certs(maaCertChain(report, { vcek: pki.vcek })).map(fp);
    expect(chain).toEqual([fp(pki.vcek), fp(AMD_ROOTS.Milan?.ask ?? ''), fp(AMD_ROOTS.Milan?.ark ?? '')]);
    const sent = certs(
      maaCertChain(report, { vcek: pki.vcek, ask: pki.roots.ask ?? '', ark: pki.roots.ark }),
    ).map(fp);
    expect(sent).toEqual([fp(pki.vcek), fp(pki.roots.ask ?? ''), fp(pki.roots.ark)]);
  });

  it('names what is missing: no VCEK from the host, or no product line to complete the chain', async () => {
    const report = milanReport(Buffer.alloc(64), { measurement: MEASUREMENT, chipId: CHIP_ID, tcb: TCB });
    const noVcek = await rejectsWith(
      Promise.resolve().then(() => maaCertChain(report, {})),
      'ERR_ATTEST_COLLECT_FAILED',
    );
    expect(noVcek.message).toMatch(/no VCEK/);
    // A real version-2 Milan report (virtee/sev): no CPUID fields, so no product line.
    const v2 = Buffer.from(
      (await readFile(new URL('../data/snp-milan-valid/report_milan.hex', import.meta.url), 'utf8')).trim(),
      'hex',
    );
    const vcek = await readFile(new URL('../data/snp-milan-valid/vcek_milan.der', import.meta.url));
    const unknown = await rejectsWith(
      Promise.resolve().then(() => maaCertChain(v2, { vcek })),
      'ERR_ATTEST_COLLECT_FAILED',
    );
    expect(unknown.message).toMatch(/no ASK and ARK/);
    expect(unknown.details).toMatchObject({ field: 'certificates.ask' });
  });
});
