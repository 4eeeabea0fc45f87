import { readFileSync } from 'node:fs';
import { isSealtrainError } from '../../../src/errors/index.js';

/** The trustee Azure CVM evidence (test/attest/data/PROVENANCE.md): valid, nonce "challenge". */
export const FIXTURE = JSON.parse(
  readFileSync(new URL('../data/azure-cvm-snp/evidence-v1.json', import.meta.url), 'utf8'),
) as {
  version: number;
  hcl_report: string;
  vcek: string;
  tpm_quote: { message: string; signature: string; pcrs: string[] };
};

export const NONCE = Buffer.from('challenge');

/** A deep copy of the fixture to edit. */
export function copy(): typeof FIXTURE {
  return structuredClone(FIXTURE);
}

/** The fixture's HCL report bytes. */
export function hclBytes(): Buffer {
  return Buffer.from(FIXTURE.hcl_report, 'base64url');
}

/** The fixture with its HCL report replaced. */
export function withHcl(bytes: Uint8Array): typeof FIXTURE {
  return { ...copy(), hcl_report: Buffer.from(bytes).toString('base64url') };
}

/** The fixture with its quote message replaced. */
export function withMessage(bytes: Uint8Array): typeof FIXTURE {
  const e = copy();
  e.tpm_quote.message = Buffer.from(bytes).toString('hex');
  return e;
}

/** The fixture with one byte XOR-ed by 0x01. */
export function flip(bytes: Uint8Array, at: number): Buffer {
  const out = Buffer.from(bytes);
  out[at] = (out[at] ?? 0) ^ 0x01;
  return out;
}

/** `code field-or-message` of the SealtrainError `fn` throws, or "no error". */
export function errorOf(fn: () => unknown): { code: string; field: string; message: string } {
  try {
    fn();
  } catch (e) {
    if (isSealtrainError(e))
      return { code: e.code, field: String(e.details.field ?? ''), message: e.message };
    throw e;
  }
  return { code: 'no error', field: '', message: '' };
}

/**
 * An HCL report whose variable data is `runtime` (JSON), around the fixture's SNP report or
 * `snpReport` (1184 bytes) in its place.
 */
export function hclWith(runtime: unknown, snpReport?: Buffer): Buffer {
  const head = Buffer.from(hclBytes().subarray(0, 32 + 1184 + 20));
  snpReport?.copy(head, 32);
  const variable = Buffer.from(typeof runtime === 'string' ? runtime : JSON.stringify(runtime));
  const out = Buffer.concat([head, variable]);
  out.writeUInt32LE(out.length, 8);
  out.writeUInt32LE(20 + variable.length, 32 + 1184);
  out.writeUInt32LE(variable.length, 32 + 1184 + 16);
  return out;
}
