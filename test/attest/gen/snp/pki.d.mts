import type { KeyObject } from 'node:crypto';
import type { SnpRootSet } from '../../../../src/attest/index.js';

/** Types for the parts of the test AMD PKI that TypeScript tests use. */
export function signSnpReport(report: Buffer, privateKey: KeyObject): Buffer;
export function snpTestPki(options: {
  product?: 'Milan' | 'Genoa' | 'Turin';
  productName?: string;
  tcb: { bootloader: number; tee: number; snp: number; microcode: number; fmc?: number };
  hwid: string;
  validity: { notBefore: Date; notAfter: Date };
}): { readonly roots: SnpRootSet; readonly vcek: string; readonly sign: (report: Buffer) => Buffer };
