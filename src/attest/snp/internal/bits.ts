import type { SnpGuestPolicy, SnpKeyInfo, SnpPlatformInfo } from '../report.js';

const bit = (raw: bigint, n: number): boolean => ((raw >> BigInt(n)) & 1n) === 1n;

/** Decodes GUEST_POLICY (AMD SEV-SNP ABI 56860, "Guest Policy"). */
export function decodePolicy(raw: bigint): SnpGuestPolicy {
  return {
    raw,
    abiMinor: Number(raw & 0xffn),
    abiMajor: Number((raw >> 8n) & 0xffn),
    smt: bit(raw, 16),
    reservedMustBeOne: bit(raw, 17),
    migrateMa: bit(raw, 18),
    debug: bit(raw, 19),
    singleSocket: bit(raw, 20),
    cxlAllow: bit(raw, 21),
    memAes256Xts: bit(raw, 22),
    raplDis: bit(raw, 23),
    ciphertextHiding: bit(raw, 24),
    pageSwapDisable: bit(raw, 25),
  };
}

/** Decodes PLATFORM_INFO (AMD SEV-SNP ABI 56860, "ATTESTATION_REPORT"). */
export function decodePlatformInfo(raw: bigint): SnpPlatformInfo {
  return {
    raw,
    smtEnabled: bit(raw, 0),
    tsmeEnabled: bit(raw, 1),
    eccEnabled: bit(raw, 2),
    raplDisabled: bit(raw, 3),
    ciphertextHidingEnabled: bit(raw, 4),
    aliasCheckComplete: bit(raw, 5),
    tioEnabled: bit(raw, 7),
  };
}

/** Decodes the key-information word at 0x48: AUTHOR_KEY_EN, MASK_CHIP_KEY, SIGNING_KEY. */
export function decodeKeyInfo(raw: number): SnpKeyInfo {
  return {
    raw,
    authorKeyEn: (raw & 1) === 1,
    maskChipKey: (raw & 2) === 2,
    signingKey: (raw >>> 2) & 7,
  };
}
