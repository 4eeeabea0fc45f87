import { z } from 'zod';

/** Key types the broker makes: RSA (2048, 3072, 4096 bits) and 256-bit AES (`oct`). */
export type KeyType = 'RSA' | 'oct';

/** Operations a key version allows, in Key Vault's names. */
export const KEY_OPS = ['wrapKey', 'unwrapKey'] as const;
/** One key operation. */
export type KeyOp = (typeof KEY_OPS)[number];

/** One version of a key, as stored (inside the encrypted state). */
export interface StoredKeyVersion {
  readonly version: string;
  readonly kty: KeyType;
  /** RSA modulus bits, or 256 for `oct`. */
  readonly size: number;
  /** Base64 of the PKCS#8 DER private key (RSA) or of the raw key bytes (`oct`). */
  readonly material: string;
  readonly enabled: boolean;
  readonly exportable: boolean;
  /** Seconds since the epoch. */
  readonly created: number;
  readonly updated: number;
  readonly keyOps: readonly KeyOp[];
  readonly tags?: Readonly<Record<string, string>>;
  /** The release policy as parsed JSON, when the version has one. */
  readonly releasePolicy?: unknown;
  readonly releasePolicyImmutable?: boolean;
}

/** Principal roles: `owner` manages keys; `workload` only releases and reads public keys. */
export type Role = 'owner' | 'workload';

/** A principal as stored: its token is kept only as a SHA-256 hash. */
export interface StoredPrincipal {
  readonly name: string;
  readonly role: Role;
  /** Hex SHA-256 of the bearer token. */
  readonly tokenHash: string;
  /** Seconds since the epoch. */
  readonly created: number;
  readonly expires: number;
  readonly revoked?: number;
}

/** Everything the broker keeps, as it is before encryption. */
export interface BrokerDoc {
  readonly keys: Readonly<Record<string, readonly StoredKeyVersion[]>>;
  readonly principals: Readonly<Record<string, StoredPrincipal>>;
  /** The RS256 key that signs attestation tokens and release answers (PKCS#8 DER, base64). */
  readonly signingKey: string;
}

const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/);
const seconds = z.number().int().nonnegative();

const versionSchema = z.strictObject({
  version: z.string().regex(/^[0-9a-f]{32}$/),
  kty: z.enum(['RSA', 'oct']),
  size: z.union([z.literal(2048), z.literal(3072), z.literal(4096), z.literal(256)]),
  material: b64,
  enabled: z.boolean(),
  exportable: z.boolean(),
  created: seconds,
  updated: seconds,
  keyOps: z.array(z.enum(KEY_OPS)),
  tags: z.record(z.string(), z.string()).optional(),
  releasePolicy: z.unknown().optional(),
  releasePolicyImmutable: z.boolean().optional(),
});

const principalSchema = z.strictObject({
  name: z.string(),
  role: z.enum(['owner', 'workload']),
  tokenHash: z.string().regex(/^[0-9a-f]{64}$/),
  created: seconds,
  expires: seconds,
  revoked: seconds.optional(),
});

const docSchema = z.strictObject({
  keys: z.record(z.string(), z.array(versionSchema).min(1)),
  principals: z.record(z.string(), principalSchema),
  signingKey: b64,
});

/**
 * Checks the decrypted state document. Returns the first problem as `path: message`, or the doc.
 * Only reached after the AEAD tag verified, so a failure means a bug or an old format, not tampering.
 */
export function parseDoc(value: unknown): BrokerDoc | string {
  const result = docSchema.safeParse(value);
  if (result.success) return result.data as BrokerDoc;
  const issue = result.error.issues[0];
  return `${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`;
}

/**
 * `record[name]` when `name` is the record's own entry. Key and principal names such as
 * `constructor` or `toString` must not reach the values `Object.prototype` carries.
 */
export function own<T>(record: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.hasOwn(record, name) ? record[name] : undefined;
}
