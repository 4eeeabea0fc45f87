import { SealtrainError } from '../../errors/index.js';
import { decodeKeyInfo, decodePlatformInfo, decodePolicy } from './internal/bits.js';
import { decodeTcb, productFromCpuid, type SnpProduct, type SnpTcb } from './tcb.js';

/** The size of an SEV-SNP attestation report (0x4A0). */
export const SNP_REPORT_SIZE = 0x4a0;

/** The signed part of a report: bytes 0x000–0x29F. */
export const SNP_SIGNED_BYTES = 0x2a0;

/** The signature algorithm code for ECDSA P-384 with SHA-384. */
export const SNP_SIG_ALGO_ECDSA_P384_SHA384 = 1;

/** GUEST_POLICY; `raw` is authoritative, the rest is its decoding. */
export interface SnpGuestPolicy {
  readonly raw: bigint;
  readonly abiMinor: number;
  readonly abiMajor: number;
  /** Bit 16: SMT allowed. */
  readonly smt: boolean;
  /** Bit 17: reserved, the firmware requires it to be 1. */
  readonly reservedMustBeOne: boolean;
  /** Bit 18: a migration agent may be associated. */
  readonly migrateMa: boolean;
  /** Bit 19: debugging (host decryption) allowed. */
  readonly debug: boolean;
  /** Bit 20: the guest may run on one socket only. */
  readonly singleSocket: boolean;
  /** Bit 21: CXL may be populated. */
  readonly cxlAllow: boolean;
  /** Bit 22: AES-256-XTS memory encryption required. */
  readonly memAes256Xts: boolean;
  /** Bit 23: RAPL must be disabled. */
  readonly raplDis: boolean;
  /** Bit 24: ciphertext hiding must be enabled. */
  readonly ciphertextHiding: boolean;
  /** Bit 25: page swap commands disabled. */
  readonly pageSwapDisable: boolean;
}

/** PLATFORM_INFO; `raw` is authoritative. */
export interface SnpPlatformInfo {
  readonly raw: bigint;
  readonly smtEnabled: boolean;
  readonly tsmeEnabled: boolean;
  readonly eccEnabled: boolean;
  readonly raplDisabled: boolean;
  readonly ciphertextHidingEnabled: boolean;
  readonly aliasCheckComplete: boolean;
  readonly tioEnabled: boolean;
}

/** The key-information word at 0x48; `raw` is authoritative. */
export interface SnpKeyInfo {
  readonly raw: number;
  /** AUTHOR_KEY_EN: the ID block carried an author key. */
  readonly authorKeyEn: boolean;
  /** MASK_CHIP_KEY: the host masked CHIP_ID to zeros. */
  readonly maskChipKey: boolean;
  /** SIGNING_KEY: 0 VCEK, 1 VLEK, 7 none; others reserved. */
  readonly signingKey: number;
}

/** A firmware version triple. */
export interface SnpFirmwareVersion {
  readonly build: number;
  readonly minor: number;
  readonly major: number;
}

/**
 * A parsed SEV-SNP attestation report (AMD SEV-SNP ABI 56860, "ATTESTATION_REPORT Structure").
 * Byte strings are lowercase hex as stored. Reserved bytes are kept in `reserved` (keyed by hex
 * offset) so {@link encodeSnpReport} gives back the exact bytes.
 */
export interface SnpReport {
  readonly version: number;
  readonly guestSvn: number;
  readonly policy: SnpGuestPolicy;
  readonly familyId: string;
  readonly imageId: string;
  readonly vmpl: number;
  readonly signatureAlgo: number;
  readonly currentTcb: SnpTcb;
  readonly platformInfo: SnpPlatformInfo;
  readonly keyInfo: SnpKeyInfo;
  readonly reportData: string;
  readonly measurement: string;
  readonly hostData: string;
  readonly idKeyDigest: string;
  readonly authorKeyDigest: string;
  readonly reportId: string;
  readonly reportIdMa: string;
  readonly reportedTcb: SnpTcb;
  /** CPUID family, model and stepping (version 3 and later). */
  readonly cpuid?: { readonly family: number; readonly model: number; readonly stepping: number };
  readonly chipId: string;
  readonly committedTcb: SnpTcb;
  readonly current: SnpFirmwareVersion;
  readonly committed: SnpFirmwareVersion;
  readonly launchTcb: SnpTcb;
  /** LAUNCH_MIT_VECTOR (version 5). */
  readonly launchMitVector?: bigint;
  /** CURRENT_MIT_VECTOR (version 5). */
  readonly currentMitVector?: bigint;
  /** R and S as stored: 72-byte little-endian integers, hex. */
  readonly signature: { readonly r: string; readonly s: string };
  /** Reserved bytes by offset (`0x04c` → hex), kept for an exact re-encoding. */
  readonly reserved: Readonly<Record<string, string>>;
  /** The product line the TCB fields were decoded for, when known. */
  readonly product?: SnpProduct;
}

/** Options for {@link parseSnpReport}. */
export interface ParseSnpReportOptions {
  /** Decode TCB fields for this product line (otherwise taken from CPUID in v3+). */
  readonly product?: SnpProduct;
}

/** Hex byte fields: name, offset, length. */
export const BYTE_FIELDS = [
  ['familyId', 0x10, 16],
  ['imageId', 0x20, 16],
  ['reportData', 0x50, 64],
  ['measurement', 0x90, 48],
  ['hostData', 0xc0, 32],
  ['idKeyDigest', 0xe0, 48],
  ['authorKeyDigest', 0x110, 48],
  ['reportId', 0x140, 32],
  ['reportIdMa', 0x160, 32],
  ['chipId', 0x1a0, 64],
] as const;

/** Reserved byte ranges for a report version: [start, end). */
export function reservedRanges(version: number): [number, number][] {
  return [
    [0x4c, 0x50],
    [version >= 3 ? 0x18b : 0x188, 0x1a0],
    [0x1eb, 0x1ec],
    [0x1ef, 0x1f0],
    [version >= 5 ? 0x208 : 0x1f8, 0x2a0],
    [0x2a0 + 144, SNP_REPORT_SIZE],
  ];
}

/** The offset key used in {@link SnpReport.reserved}. */
export const reservedKey = (offset: number): string => `0x${offset.toString(16).padStart(3, '0')}`;

function malformed(message: string, field: string): SealtrainError {
  return new SealtrainError('ERR_ATTEST_MALFORMED', message, { details: { field } });
}

/**
 * Parses an SEV-SNP attestation report, versions 2 to 5. A report that is not exactly 1184 bytes
 * is `ERR_ATTEST_MALFORMED`; a version outside 2–5 is `ERR_ATTEST_UNSUPPORTED`. The signature
 * algorithm is not judged here: an unknown one fails `snp.signature` in {@link verifySnpReport}.
 */
export function parseSnpReport(bytes: Uint8Array, options: ParseSnpReportOptions = {}): SnpReport {
  if (!(bytes instanceof Uint8Array))
    throw malformed('The SEV-SNP report must be bytes (a Uint8Array).', 'report');
  if (bytes.length !== SNP_REPORT_SIZE)
    throw malformed(
      `The SEV-SNP report is ${bytes.length} bytes; a report is exactly ${SNP_REPORT_SIZE} bytes.`,
      'report.length',
    );
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = b.readUInt32LE(0);
  if (version < 2 || version > 5)
    throw new SealtrainError(
      'ERR_ATTEST_UNSUPPORTED',
      `SEV-SNP report version ${version} is not supported; versions 2 to 5 are.`,
      { details: { field: 'report.version', version } },
    );
  const cpuid =
    version >= 3 ? { family: b[0x188] ?? 0, model: b[0x189] ?? 0, stepping: b[0x18a] ?? 0 } : undefined;
  const product = options.product ?? (cpuid && productFromCpuid(cpuid.family, cpuid.model));
  const tcb = (at: number) => decodeTcb(b.readBigUInt64LE(at), product);
  const hex = (at: number, n: number) => b.toString('hex', at, at + n);
  const version3 = (at: number): SnpFirmwareVersion => ({
    build: b[at] ?? 0,
    minor: b[at + 1] ?? 0,
    major: b[at + 2] ?? 0,
  });
  const reserved: Record<string, string> = {};
  for (const [start, end] of reservedRanges(version)) reserved[reservedKey(start)] = hex(start, end - start);
  const fields = Object.fromEntries(BYTE_FIELDS.map(([name, at, n]) => [name, hex(at, n)])) as Record<
    (typeof BYTE_FIELDS)[number][0],
    string
  >;
  return {
    version,
    guestSvn: b.readUInt32LE(0x04),
    policy: decodePolicy(b.readBigUInt64LE(0x08)),
    vmpl: b.readUInt32LE(0x30),
    signatureAlgo: b.readUInt32LE(0x34),
    currentTcb: tcb(0x38),
    platformInfo: decodePlatformInfo(b.readBigUInt64LE(0x40)),
    keyInfo: decodeKeyInfo(b.readUInt32LE(0x48)),
    ...fields,
    reportedTcb: tcb(0x180),
    ...(cpuid === undefined ? {} : { cpuid }),
    committedTcb: tcb(0x1e0),
    current: version3(0x1e8),
    committed: version3(0x1ec),
    launchTcb: tcb(0x1f0),
    ...(version >= 5
      ? { launchMitVector: b.readBigUInt64LE(0x1f8), currentMitVector: b.readBigUInt64LE(0x200) }
      : {}),
    signature: { r: hex(0x2a0, 72), s: hex(0x2a0 + 72, 72) },
    reserved,
    ...(product === undefined ? {} : { product }),
  };
}
