import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { ByteReader, malformed } from './internal/reader.js';
import { TPM_ALG, tpmHashName } from './tpm-attest.js';

/** `TPM_ALG_RSA`, `TPM_ALG_NULL` (TPM 2.0 Part 2, `TPM_ALG_ID`). */
const ALG_RSA = 0x0001;
const ALG_NULL = 0x0010;
/** `TPM_ALG_RSAES`: the one RSA scheme whose details are empty (the others name a hash). */
const ALG_RSAES = 0x0015;

/** `TPMA_OBJECT` bits (TPM 2.0 Part 2) sealtrain reads. */
export const TPMA_OBJECT = {
  fixedTPM: 1 << 1,
  fixedParent: 1 << 4,
  sensitiveDataOrigin: 1 << 5,
  userWithAuth: 1 << 6,
  adminWithPolicy: 1 << 7,
  noDA: 1 << 10,
  restricted: 1 << 16,
  decrypt: 1 << 17,
  sign: 1 << 18,
} as const;

/** A parsed RSA `TPM2B_PUBLIC`. */
export interface TpmRsaPublic {
  readonly nameAlg: number;
  /** `TPMA_OBJECT`. */
  readonly attributes: number;
  readonly authPolicy: Buffer;
  /** The scheme the key is fixed to (`TPM_ALG_NULL`, 0x10, leaves it to each use). */
  readonly scheme: number;
  readonly publicKey: KeyObject;
  /** The object's Name: `nameAlg` (big-endian) followed by its hash of the `TPMT_PUBLIC`. */
  readonly name: Buffer;
}

/**
 * Parses a marshalled RSA `TPM2B_PUBLIC` (as `tpm2_readpublic -o` writes it): the public key, its
 * attributes and policy, and its Name, which a `TPM2_Certify` names. Anything else (another key
 * type, a truncated or padded structure) is `ERR_ATTEST_MALFORMED` naming the field.
 */
export function parseTpmRsaPublic(bytes: Uint8Array, field = 'TPM2B_PUBLIC'): TpmRsaPublic {
  const outer = new ByteReader(bytes, field);
  const area = outer.tpm2b('publicArea', 4096);
  outer.end();
  const r = new ByteReader(area, field);
  const type = r.u16be('type');
  if (type !== ALG_RSA) throw malformed(`${field}.type`, `is 0x${type.toString(16)}, not RSA`);
  const nameAlg = r.u16be('nameAlg');
  const hash = tpmHashName(nameAlg);
  if (hash === undefined || nameAlg === TPM_ALG.sha1)
    throw malformed(`${field}.nameAlg`, `is 0x${nameAlg.toString(16)}, not SHA-256, -384 or -512`);
  const attributes = r.u32be('objectAttributes');
  const authPolicy = r.tpm2b('authPolicy', 64);
  const symmetric = r.u16be('parameters.symmetric.algorithm');
  if (symmetric !== ALG_NULL) {
    r.u16be('parameters.symmetric.keyBits');
    r.u16be('parameters.symmetric.mode');
  }
  const scheme = r.u16be('parameters.scheme.scheme');
  if (scheme !== ALG_NULL && scheme !== ALG_RSAES) r.u16be('parameters.scheme.details.hashAlg');
  const keyBits = r.u16be('parameters.keyBits');
  const exponent = r.u32be('parameters.exponent') || 65537;
  const modulus = r.tpm2b('unique', 512);
  r.end();
  if (modulus.length * 8 !== keyBits)
    throw malformed(`${field}.unique`, `is ${modulus.length * 8} bits, but keyBits says ${keyBits}`);
  const e = Buffer.alloc(4);
  e.writeUInt32BE(exponent);
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({
      key: {
        kty: 'RSA',
        n: modulus.toString('base64url'),
        e: e.subarray(e.findIndex((b) => b !== 0)).toString('base64url'),
      },
      format: 'jwk',
    });
  } catch (cause) {
    throw malformed(`${field}.unique`, 'is not an RSA modulus', cause);
  }
  const alg = Buffer.alloc(2);
  alg.writeUInt16BE(nameAlg);
  const name = Buffer.concat([alg, createHash(hash).update(area).digest()]);
  return { nameAlg, attributes, authPolicy, scheme, publicKey, name };
}
