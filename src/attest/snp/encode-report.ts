import { SealtrainError } from '../../errors/index.js';
import { BYTE_FIELDS, reservedKey, reservedRanges, SNP_REPORT_SIZE, type SnpReport } from './report.js';

function bad(field: string, why: string): SealtrainError {
  return new SealtrainError('ERR_ATTEST_MALFORMED', `Cannot encode the SEV-SNP report: ${field} ${why}.`, {
    details: { field },
  });
}

function putHex(out: Buffer, at: number, bytes: number, value: unknown, field: string): void {
  if (typeof value !== 'string' || value.length !== bytes * 2 || !/^[0-9a-fA-F]*$/.test(value))
    throw bad(field, `must be ${bytes} bytes of hexadecimal`);
  out.write(value, at, bytes, 'hex');
}

function putU64(out: Buffer, at: number, value: unknown, field: string): void {
  if (typeof value !== 'bigint' || value < 0n || value > 0xffffffffffffffffn)
    throw bad(field, 'must be an unsigned 64-bit bigint');
  out.writeBigUInt64LE(value, at);
}

function putU32(out: Buffer, at: number, value: unknown, field: string): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff)
    throw bad(field, 'must be an unsigned 32-bit integer');
  out.writeUInt32LE(value, at);
}

function putU8(out: Buffer, at: number, value: unknown, field: string): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xff)
    throw bad(field, 'must be an integer 0 to 255');
  out[at] = value;
}

/**
 * Encodes a report back into its 1184 bytes. The `raw` values of bit fields and TCBs are written,
 * not their decodings, and reserved bytes come from `reserved` (zero when absent), so
 * `encodeSnpReport(parseSnpReport(b))` equals `b`. Wrong types or lengths are `ERR_ATTEST_MALFORMED`.
 */
export function encodeSnpReport(report: SnpReport): Buffer {
  const out = Buffer.alloc(SNP_REPORT_SIZE);
  putU32(out, 0x00, report.version, 'version');
  putU32(out, 0x04, report.guestSvn, 'guestSvn');
  putU64(out, 0x08, report.policy?.raw, 'policy.raw');
  putU32(out, 0x30, report.vmpl, 'vmpl');
  putU32(out, 0x34, report.signatureAlgo, 'signatureAlgo');
  putU64(out, 0x38, report.currentTcb?.raw, 'currentTcb.raw');
  putU64(out, 0x40, report.platformInfo?.raw, 'platformInfo.raw');
  putU32(out, 0x48, report.keyInfo?.raw, 'keyInfo.raw');
  for (const [name, at, n] of BYTE_FIELDS) putHex(out, at, n, report[name], name);
  putU64(out, 0x180, report.reportedTcb?.raw, 'reportedTcb.raw');
  if (report.version >= 3) {
    putU8(out, 0x188, report.cpuid?.family, 'cpuid.family');
    putU8(out, 0x189, report.cpuid?.model, 'cpuid.model');
    putU8(out, 0x18a, report.cpuid?.stepping, 'cpuid.stepping');
  }
  putU64(out, 0x1e0, report.committedTcb?.raw, 'committedTcb.raw');
  for (const [at, name, v] of [
    [0x1e8, 'current', report.current],
    [0x1ec, 'committed', report.committed],
  ] as const) {
    putU8(out, at, v?.build, `${name}.build`);
    putU8(out, at + 1, v?.minor, `${name}.minor`);
    putU8(out, at + 2, v?.major, `${name}.major`);
  }
  putU64(out, 0x1f0, report.launchTcb?.raw, 'launchTcb.raw');
  if (report.version >= 5) {
    putU64(out, 0x1f8, report.launchMitVector ?? 0n, 'launchMitVector');
    putU64(out, 0x200, report.currentMitVector ?? 0n, 'currentMitVector');
  }
  putHex(out, 0x2a0, 72, report.signature?.r, 'signature.r');
  putHex(out, 0x2a0 + 72, 72, report.signature?.s, 'signature.s');
  for (const [start, end] of reservedRanges(report.version)) {
    const key = reservedKey(start);
    const value = report.reserved?.[key];
    if (value !== undefined) putHex(out, start, end - start, value, `reserved.${key}`);
  }
  return out;
}
