// A version-3 Milan SEV-SNP report, unsigned, laid out from the ABI spec (56860) as the vector
// generator writes it: what the tests that stand in for AMD hardware sign with the test PKI.

import { snpTestPki } from '../attest/gen/snp/pki.mjs';

/** The TCB every such report states (current, reported, committed and launch). */
export interface MilanTcb {
  readonly bootloader: number;
  readonly tee: number;
  readonly snp: number;
  readonly microcode: number;
}

/** Milan TCB_VERSION: BOOT_LOADER at byte 0, TEE at 1, SNP at 6, MICROCODE at 7. */
function milanTcb(tcb: MilanTcb): bigint {
  const b = Buffer.alloc(8);
  b[0] = tcb.bootloader;
  b[1] = tcb.tee;
  b[6] = tcb.snp;
  b[7] = tcb.microcode;
  return b.readBigUInt64LE(0);
}

/**
 * The report's bytes over `reportData` (64 bytes), for the chip `chipId` (128 hex digits) and the
 * launch `measurement` (96 hex digits). The default guest policy allows SMT, keeps reserved bit 17
 * and has debug and migration off.
 */
export function milanReport(
  reportData: Buffer,
  o: { measurement: string; chipId: string; tcb: MilanTcb; guestPolicy?: bigint },
): Buffer {
  const b = Buffer.alloc(0x4a0);
  const tcb = milanTcb(o.tcb);
  b.writeUInt32LE(3, 0); // VERSION
  b.writeUInt32LE(1, 0x04); // GUEST_SVN
  b.writeBigUInt64LE(o.guestPolicy ?? 0x30000n, 0x08); // POLICY
  b.writeUInt32LE(1, 0x34); // SIGNATURE_ALGO: ECDSA P-384 with SHA-384
  b.writeBigUInt64LE(tcb, 0x38); // CURRENT_TCB
  b.writeBigUInt64LE(0x3n, 0x40); // PLATFORM_INFO
  b.writeUInt32LE(0, 0x48); // KEY_INFO: signed by the VCEK
  reportData.copy(b, 0x50);
  b.write(o.measurement, 0x90, 'hex');
  b.fill(0xff, 0x160, 0x180); // REPORT_ID_MA: no migration agent
  b.writeBigUInt64LE(tcb, 0x180); // REPORTED_TCB
  b.set([0x19, 0x01, 0x01], 0x188); // CPUID family, model, stepping: Milan
  b.write(o.chipId, 0x1a0, 'hex');
  b.writeBigUInt64LE(tcb, 0x1e0); // COMMITTED_TCB
  b.set([24, 55, 1], 0x1e8); // current build, minor, major
  b.set([24, 55, 1], 0x1ec); // committed build, minor, major
  b.writeBigUInt64LE(tcb, 0x1f0); // LAUNCH_TCB
  return b;
}

/** The Milan TCB the tests' chips report: bootloader 3, TEE 0, SNP 8, microcode 115. */
export const MILAN_TCB: MilanTcb = { bootloader: 3, tee: 0, snp: 8, microcode: 115 };

/** A test AMD PKI for one Milan chip at {@link MILAN_TCB}, valid from a day ago for a year. */
export function milanPki(chipId: string): ReturnType<typeof snpTestPki> {
  const now = Date.now();
  return snpTestPki({
    product: 'Milan',
    tcb: MILAN_TCB,
    hwid: chipId,
    validity: { notBefore: new Date(now - 86_400_000), notAfter: new Date(now + 365 * 86_400_000) },
  });
}
