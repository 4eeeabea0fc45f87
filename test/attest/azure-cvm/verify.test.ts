import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  azureCvmClaims,
  HCL_AK_KID,
  parseAzureCvmEvidence,
  verifyAzureCvmEvidence,
} from '../../../src/attest/azure-cvm/index.js';
import { type Claims, claimAt } from '../../../src/attest/claims.js';
import { copy, FIXTURE, flip, hclBytes, NONCE, withHcl, withMessage } from './fixture.js';

const ALL_IDS = [
  'azure.report-data-binding',
  'azure.ak',
  'azure.quote.magic',
  'azure.quote.type',
  'azure.quote.signature',
  'azure.quote.nonce',
  'azure.quote.pcr-digest',
];

function failedIds(input: unknown, nonce: Uint8Array | undefined = NONCE): string[] {
  const result = verifyAzureCvmEvidence(parseAzureCvmEvidence(input), nonce ? { nonce } : {});
  return result.checks.filter((c) => !c.ok).map((c) => c.id);
}

const message = () => Buffer.from(FIXTURE.tpm_quote.message, 'hex');
/** Offset of the variable data in the HCL report, and of "vmUniqueId" inside it. */
const VAR_DATA = 32 + 1184 + 20;
const vmUniqueIdAt = () => hclBytes().indexOf('26F8BC30');

describe('verifyAzureCvmEvidence on the trustee fixture', () => {
  it('passes every check with nonce "challenge" and hands back the SNP report, VCEK, AK, PCRs and claims', () => {
    const evidence = parseAzureCvmEvidence(FIXTURE);
    const result = verifyAzureCvmEvidence(evidence, { nonce: NONCE });
    expect(result.checks.map((c) => c.id)).toEqual(ALL_IDS);
    expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    expect(Buffer.from(result.snpReport)).toEqual(hclBytes().subarray(32, 32 + 1184));
    expect(Buffer.from(result.snpReport.subarray(0x90, 0x90 + 48)).toString('hex')).toBe(
      '6a063be9dd79f6371c842e480f8dc3b5c725961344e57130e88c5adf49e8f7f6c79b75a5eb77fc769959f4aeb2f9401e',
    );
    expect(new X509Certificate(Buffer.from(result.vcek ?? [])).subject).toContain('SEV-VCEK');
    expect(result.akPublicKey.equals(evidence.hclAkPub)).toBe(true);
    expect(result.pcrs.size).toBe(24);
    expect(result.pcrs.get(0)?.toString('hex')).toBe(FIXTURE.tpm_quote.pcrs[0]);
    expect(result.pcrs.get(23)?.toString('hex')).toBe(FIXTURE.tpm_quote.pcrs[23]);
  });

  it('fails azure.quote.nonce only for a different nonce', () => {
    expect(failedIds(FIXTURE, Buffer.from('challengf'))).toEqual(['azure.quote.nonce']);
    expect(failedIds(FIXTURE, Buffer.from('challenge\0'))).toEqual(['azure.quote.nonce']);
  });

  it('does not check freshness without a nonce', () => {
    const result = verifyAzureCvmEvidence(parseAzureCvmEvidence(FIXTURE));
    expect(result.checks.map((c) => c.id)).toEqual(ALL_IDS.filter((id) => id !== 'azure.quote.nonce'));
    expect(result.checks.every((c) => c.ok)).toBe(true);
  });

  it('fails azure.report-data-binding only for a flipped byte in the variable data', () => {
    const at = vmUniqueIdAt();
    expect(at).toBeGreaterThan(VAR_DATA);
    expect(failedIds(withHcl(flip(hclBytes(), at)))).toEqual(['azure.report-data-binding']);
  });

  it('fails azure.report-data-binding when the report data after the digest is not zero', () => {
    expect(failedIds(withHcl(flip(hclBytes(), 32 + 0x50 + 40)))).toEqual(['azure.report-data-binding']);
  });

  it('fails azure.quote.signature only for a flipped byte in the quote or its signature', () => {
    const clockAt = 4 + 2 + 2 + 34 + 2 + 9 + 3;
    expect(failedIds(withMessage(flip(message(), clockAt)))).toEqual(['azure.quote.signature']);
    const e = copy();
    e.tpm_quote.signature = flip(Buffer.from(e.tpm_quote.signature, 'hex'), 100).toString('hex');
    expect(failedIds(e)).toEqual(['azure.quote.signature']);
  });

  it('fails azure.quote.magic (and the signature) for a quote not made by a TPM', () => {
    expect(failedIds(withMessage(flip(message(), 3)))).toEqual([
      'azure.quote.magic',
      'azure.quote.signature',
    ]);
  });

  it('fails azure.quote.pcr-digest for an edited or missing PCR value', () => {
    const e = copy();
    e.tpm_quote.pcrs[7] = '00'.repeat(32);
    expect(failedIds(e)).toEqual(['azure.quote.pcr-digest']);
    const short = copy();
    short.tpm_quote.pcrs.pop();
    expect(failedIds(short)).toEqual(['azure.quote.pcr-digest']);
    expect(verifyAzureCvmEvidence(parseAzureCvmEvidence(short)).pcrs.size).toBe(0);
  });

  it('fails azure.ak (and the signature) when the TPM key is not HCLAkPub', () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const e = { ...copy(), ak_pub: publicKey.export({ type: 'spki', format: 'der' }).toString('base64url') };
    expect(failedIds(e)).toEqual(['azure.ak', 'azure.quote.signature']);
  });

  it('passes azure.ak when ak_pub is HCLAkPub itself', () => {
    const hclAk = parseAzureCvmEvidence(FIXTURE).hclAkPub;
    const e = { ...copy(), ak_pub: hclAk.export({ type: 'spki', format: 'der' }).toString('base64url') };
    expect(failedIds(e)).toEqual([]);
  });

  it('accepts the signature as a marshalled TPMT_SIGNATURE (RSASSA, SHA-256)', () => {
    const sig = Buffer.from(FIXTURE.tpm_quote.signature, 'hex');
    const e = copy();
    e.tpm_quote.signature = Buffer.concat([Buffer.from([0x00, 0x14, 0x00, 0x0b, 0x01, 0x00]), sig]).toString(
      'hex',
    );
    expect(failedIds(e)).toEqual([]);
    e.tpm_quote.signature = Buffer.concat([Buffer.from([0x00, 0x16, 0x00, 0x0b, 0x01, 0x00]), sig]).toString(
      'hex',
    );
    expect(failedIds(e)).toEqual(['azure.quote.signature']);
  });
});

describe('runtime claims', () => {
  const token = readFileSync(new URL('../data/maa/attestation.txt', import.meta.url), 'utf8').trim();
  const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Claims;

  it('carry the HCL variable data as x-ms-runtime, shaped like the real MAA token', () => {
    const { runtimeClaims } = verifyAzureCvmEvidence(parseAzureCvmEvidence(FIXTURE), { nonce: NONCE });
    const ours = claimAt(runtimeClaims, 'x-ms-runtime') as Record<string, unknown>;
    const maa = claimAt(payload, 'x-ms-isolation-tee.x-ms-runtime') as Record<string, unknown>;
    expect(Object.keys(ours).sort()).toEqual(Object.keys(maa).sort());
    const kids = (claims: Record<string, unknown>) => (claims.keys as { kid: string }[]).map((k) => k.kid);
    expect(kids(ours)).toEqual(kids(maa));
    expect(kids(ours)[0]).toBe(HCL_AK_KID);
    expect(ours['user-data']).toBe(maa['user-data']);
    expect(Object.keys(ours['vm-configuration'] as object).sort()).toEqual(
      Object.keys(maa['vm-configuration'] as object).sort(),
    );
    expect(claimAt(runtimeClaims, 'x-ms-azurevm-attested-pcrs')).toEqual(
      Array.from({ length: 24 }, (_, i) => i),
    );
  });

  it('compose into an azurevm token shape with the runtime under x-ms-isolation-tee', () => {
    const { runtimeClaims } = verifyAzureCvmEvidence(parseAzureCvmEvidence(FIXTURE));
    const snp: Claims = { 'x-ms-attestation-type': 'sevsnpvm', 'x-ms-sevsnpvm-vmpl': 0 };
    const claims = azureCvmClaims(runtimeClaims, snp);
    expect(claimAt(claims, 'x-ms-attestation-type')).toBe(claimAt(payload, 'x-ms-attestation-type'));
    expect(claimAt(claims, 'x-ms-isolation-tee.x-ms-attestation-type')).toBe('sevsnpvm');
    expect(claimAt(claims, 'x-ms-isolation-tee.x-ms-sevsnpvm-vmpl')).toBe(0);
    expect(claimAt(claims, 'x-ms-isolation-tee.x-ms-runtime.user-data')).toBe('0'.repeat(128));
    expect(claimAt(claims, 'x-ms-runtime')).toBeUndefined();
    const withClient = azureCvmClaims(runtimeClaims, snp, { clientRuntime: { keys: [] } });
    expect(claimAt(withClient, 'x-ms-runtime')).toEqual({ keys: [] });
  });
});
