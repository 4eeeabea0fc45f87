import { readFileSync } from 'node:fs';

const DATA = new URL('../data/', import.meta.url);

/** Reads a file under test/attest/data. */
export const data = (path: string): Buffer => readFileSync(new URL(path, DATA));

/** The real Milan report and VCEK from virtee/sev (see PROVENANCE.md). */
export const milanValid = {
  report: Buffer.from(data('snp-milan-valid/report_milan.hex').toString('latin1').trim(), 'hex'),
  vcek: data('snp-milan-valid/vcek_milan.der'),
  chain: data('snp-milan-valid/cert_chain_milan').toString('latin1'),
};

/** The real Milan debug report and VCEK from go-sev-guest. */
export const milanDebug = {
  report: data('snp-milan-debug/attestation.bin'),
  vcek: data('snp-milan-debug/vcek.testcer'),
};

/** Splits a PEM bundle into its certificates. */
export const pems = (text: string): string[] =>
  text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];

/** A clock inside both real VCEKs' validity (2023-04-03 to 2029-09-24). */
export const PINNED = new Date('2025-06-01T00:00:00Z');

/** Ids of the failed checks, sorted. */
export const failedIds = (checks: readonly { id: string; ok: boolean }[]): string[] =>
  checks
    .filter((c) => !c.ok)
    .map((c) => c.id)
    .sort();
