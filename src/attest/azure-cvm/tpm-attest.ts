import { ByteReader, malformed } from './internal/reader.js';

/** `TPM_GENERATED_VALUE` (TPM 2.0 Part 2, `TPM_GENERATED`): every TPM-made attestation starts with it. */
export const TPM_GENERATED_VALUE = 0xff544347;

/** `TPM_ST_ATTEST_QUOTE` (TPM 2.0 Part 2, `TPM_ST`): the attestation type of a TPM2_Quote. */
export const TPM_ST_ATTEST_QUOTE = 0x8018;

/** `TPM_ST_ATTEST_CERTIFY` (TPM 2.0 Part 2, `TPM_ST`): the attestation type of a TPM2_Certify. */
export const TPM_ST_ATTEST_CERTIFY = 0x8017;

/** TPM algorithm ids sealtrain reads (TPM 2.0 Part 2, `TPM_ALG_ID`). */
export const TPM_ALG = {
  sha1: 0x0004,
  sha256: 0x000b,
  sha384: 0x000c,
  sha512: 0x000d,
  rsassa: 0x0014,
  rsapss: 0x0016,
} as const;

/** The digest size of each TPM hash algorithm sealtrain knows. */
const DIGEST_BYTES = new Map<number, number>([
  [TPM_ALG.sha1, 20],
  [TPM_ALG.sha256, 32],
  [TPM_ALG.sha384, 48],
  [TPM_ALG.sha512, 64],
]);

/** The largest TPM2B_NAME / TPM2B_DATA: a hash algorithm id and a SHA-512 digest. */
const MAX_NAME_BYTES = 2 + 64;
/** More banks than any TPM has (`HASH_COUNT`). */
const MAX_BANKS = 16;
/** Bytes of one bank's PCR bitmap: 8 bytes covers 64 PCRs, more than any TPM implements. */
const MAX_SELECT_BYTES = 8;

/** One bank of a `TPML_PCR_SELECTION`: the hash and the selected PCR indices, ascending. */
export interface PcrBankSelection {
  readonly hashAlg: number;
  readonly pcrs: readonly number[];
}

/** `TPMS_CLOCK_INFO`. */
export interface TpmClockInfo {
  readonly clock: bigint;
  readonly resetCount: number;
  readonly restartCount: number;
  readonly safe: boolean;
}

/**
 * A parsed `TPMS_ATTEST` whose `attested` member is a `TPMS_QUOTE_INFO` (when `type` is a quote)
 * or a `TPMS_CERTIFY_INFO` (when it is a certification).
 */
export interface TpmsAttest {
  readonly magic: number;
  readonly type: number;
  readonly qualifiedSigner: Buffer;
  readonly extraData: Buffer;
  readonly clockInfo: TpmClockInfo;
  readonly firmwareVersion: bigint;
  /** The quote's PCR selection; empty when `type` is not a quote. */
  readonly pcrSelect: readonly PcrBankSelection[];
  /** The quote's digest of the selected PCR values; empty when `type` is not a quote. */
  readonly pcrDigest: Buffer;
  /** The certified object's Name; empty when `type` is not a certification. */
  readonly certifiedName: Buffer;
}

function pcrSelection(r: ByteReader): PcrBankSelection[] {
  const count = r.u32be('pcrSelect.count');
  if (count > MAX_BANKS) throw malformed('TPMS_ATTEST.pcrSelect.count', `is ${count}, over ${MAX_BANKS}`);
  const banks: PcrBankSelection[] = [];
  for (let i = 0; i < count; i++) {
    const hashAlg = r.u16be(`pcrSelect[${i}].hash`);
    const size = r.u8(`pcrSelect[${i}].sizeofSelect`);
    if (size > MAX_SELECT_BYTES)
      throw malformed(`TPMS_ATTEST.pcrSelect[${i}].sizeofSelect`, `is ${size}, over ${MAX_SELECT_BYTES}`);
    const bitmap = r.take(size, `pcrSelect[${i}].pcrSelect`);
    const pcrs: number[] = [];
    for (let bit = 0; bit < size * 8; bit++) if ((bitmap[bit >> 3] ?? 0) & (1 << (bit & 7))) pcrs.push(bit);
    banks.push({ hashAlg, pcrs });
  }
  return banks;
}

/**
 * Parses a `TPMS_ATTEST` (TPM 2.0 Part 2) as TPM2_Quote and TPM2_Certify marshal it: big-endian,
 * sizes first. A quote's and a certification's `attested` member is read; another type keeps an
 * empty selection, digest and name. Truncated
 * or oversized fields and trailing bytes are `ERR_ATTEST_MALFORMED` naming the field.
 */
export function parseTpmsAttest(bytes: Uint8Array): TpmsAttest {
  const r = new ByteReader(bytes, 'TPMS_ATTEST');
  const magic = r.u32be('magic');
  const type = r.u16be('type');
  const qualifiedSigner = r.tpm2b('qualifiedSigner', MAX_NAME_BYTES);
  const extraData = r.tpm2b('extraData', MAX_NAME_BYTES);
  const clockInfo: TpmClockInfo = {
    clock: r.u64be('clockInfo.clock'),
    resetCount: r.u32be('clockInfo.resetCount'),
    restartCount: r.u32be('clockInfo.restartCount'),
    safe: r.u8('clockInfo.safe') !== 0,
  };
  const firmwareVersion = r.u64be('firmwareVersion');
  const head = { magic, type, qualifiedSigner, extraData, clockInfo, firmwareVersion };
  const none = { pcrSelect: [], pcrDigest: Buffer.alloc(0), certifiedName: Buffer.alloc(0) };
  if (type === TPM_ST_ATTEST_CERTIFY) {
    const certifiedName = r.tpm2b('attested.name', MAX_NAME_BYTES);
    r.tpm2b('attested.qualifiedName', MAX_NAME_BYTES);
    r.end();
    return { ...head, ...none, certifiedName };
  }
  if (type !== TPM_ST_ATTEST_QUOTE) return { ...head, ...none };
  const pcrSelect = pcrSelection(r);
  const pcrDigest = r.tpm2b('pcrDigest', 64);
  r.end();
  return { ...head, ...none, pcrSelect, pcrDigest };
}

/** A quote signature: the scheme, its hash, and the raw RSA signature bytes. */
export interface TpmSignature {
  /** `rsassa` (PKCS#1 v1.5) or `rsapss`. */
  readonly scheme: 'rsassa' | 'rsapss';
  /** The TPM hash algorithm id the signature is over. */
  readonly hashAlg: number;
  /** The RSA signature. */
  readonly signature: Buffer;
}

/**
 * Reads a quote signature in either form Azure CVM evidence carries it: a marshalled
 * `TPMT_SIGNATURE` (TPM 2.0 Part 2; RSASSA or RSAPSS) as `tpm2_quote -f tss` writes it, or the bare
 * RSA signature (`tpm2_quote -f plain`, Azure's and trustee's tools), which is RSASSA with SHA-256
 * because that is the vTPM attestation key's scheme. Other algorithms are malformed.
 */
export function parseTpmSignature(bytes: Uint8Array): TpmSignature {
  const buf = Buffer.from(bytes);
  const sigAlg = buf.length >= 6 ? buf.readUInt16BE(0) : -1;
  const looksMarshalled =
    (sigAlg === TPM_ALG.rsassa || sigAlg === TPM_ALG.rsapss) && buf.readUInt16BE(4) + 6 === buf.length;
  if (!looksMarshalled) {
    if (buf.length < 128 || buf.length > 512)
      throw malformed(
        'tpm_quote.signature',
        `is ${buf.length} bytes, neither a TPMT_SIGNATURE nor an RSA signature`,
      );
    return { scheme: 'rsassa', hashAlg: TPM_ALG.sha256, signature: buf };
  }
  const r = new ByteReader(buf, 'TPMT_SIGNATURE');
  r.u16be('sigAlg');
  const hashAlg = r.u16be('hash');
  if (!DIGEST_BYTES.has(hashAlg) || hashAlg === TPM_ALG.sha1)
    throw malformed(
      'tpm_quote.signature',
      `uses hash algorithm 0x${hashAlg.toString(16)}, not SHA-256, -384 or -512`,
    );
  const signature = r.tpm2b('signature', 512);
  r.end();
  return { scheme: sigAlg === TPM_ALG.rsassa ? 'rsassa' : 'rsapss', hashAlg, signature };
}

/** The digest size of a TPM hash algorithm, or undefined for one sealtrain does not know. */
export function tpmDigestBytes(hashAlg: number): number | undefined {
  return DIGEST_BYTES.get(hashAlg);
}

/** Node's name for a TPM hash algorithm (`sha256`, …), or undefined. */
export function tpmHashName(hashAlg: number): string | undefined {
  const names: Record<number, string> = {
    [TPM_ALG.sha1]: 'sha1',
    [TPM_ALG.sha256]: 'sha256',
    [TPM_ALG.sha384]: 'sha384',
    [TPM_ALG.sha512]: 'sha512',
  };
  return names[hashAlg];
}
