import { z } from 'zod';
import { SealtrainError } from '../../errors/index.js';
import { validateReleasePolicy } from '../../policy/index.js';
import { KEY_OPS, type KeyOp, type StoredKeyVersion } from '../state/state-model.js';
import { OCT_BITS, RSA_SIZES, rsaPublicJwk } from './key-material.js';
import type { CreateKeyRequest, UpdateKeyRequest } from './key-service.js';

/** Key operations a new key gets when the request names none. */
export const DEFAULT_KEY_OPS: readonly KeyOp[] = ['wrapKey', 'unwrapKey'];
const POLICY_CONTENT_TYPE = 'application/json; charset=utf-8';

const base64url = z.string().regex(/^[A-Za-z0-9_-]*={0,2}$/, 'must be base64url');
const keyOps = z.array(z.string());
const tags = z.record(z.string(), z.string());
const attributes = z.looseObject({
  enabled: z.boolean().optional(),
  exportable: z.boolean().optional(),
  // Activation and expiry dates are refused rather than stored and ignored: a caller who sets them
  // expects the key to stop working, and this broker does not enforce them.
  nbf: z
    .undefined({
      error: 'is not supported by this broker (activation dates are not enforced); leave it unset',
    })
    .optional(),
  exp: z
    .undefined({
      error: 'is not supported by this broker (expiry dates are not enforced); leave it unset',
    })
    .optional(),
});
const releasePolicy = z.looseObject({
  contentType: z.string().optional(),
  immutable: z.boolean().optional(),
  data: base64url.optional(),
});

const createSchema = z.looseObject({
  kty: z.string(),
  key_size: z.number().int().optional(),
  public_exponent: z.number().int().optional(),
  key_ops: keyOps.optional(),
  attributes: attributes.optional(),
  tags: tags.optional(),
  crv: z.string().optional(),
  release_policy: releasePolicy.optional(),
});
const updateSchema = z.looseObject({
  key_ops: keyOps.optional(),
  attributes: attributes.optional(),
  tags: tags.optional(),
  release_policy: releasePolicy.optional(),
});
const operationSchema = z.looseObject({ alg: z.string(), value: base64url });
const releaseSchema = z.looseObject({
  target: z.string().min(1),
  nonce: z.string().optional(),
  enc: z.string().optional(),
});

function badParameter(field: string, message: string): SealtrainError {
  return new SealtrainError('ERR_BROKER_REQUEST', message, { details: { field, reason: 'bad-parameter' } });
}

function parseWith<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.join('.') || '(body)';
  throw badParameter(field, `Field "${field}" ${issue?.message ?? 'is invalid'}.`);
}

function opsOf(value: readonly string[] | undefined, fallback: readonly KeyOp[]): readonly KeyOp[] {
  if (value === undefined) return fallback;
  const unknown = value.filter((op) => !(KEY_OPS as readonly string[]).includes(op));
  if (unknown.length > 0) {
    throw badParameter(
      'key_ops',
      `Field "key_ops" names ${unknown.join(', ')}; the broker supports ${KEY_OPS.join(', ')}.`,
    );
  }
  return value as KeyOp[];
}

function policyOf(value: z.infer<typeof releasePolicy> | undefined): CreateKeyRequest['releasePolicy'] {
  if (value === undefined) return undefined;
  if (value.data === undefined)
    throw badParameter('release_policy.data', 'Field "release_policy.data" is missing.');
  const text = Buffer.from(value.data, 'base64url');
  const policy = validateReleasePolicy(text, 'release_policy.data').policy;
  return { policy, immutable: value.immutable ?? false };
}

function typeAndSize(body: z.infer<typeof createSchema>): { kty: 'RSA' | 'oct'; size: number } {
  if (body.kty === 'RSA') {
    const size = body.key_size ?? 2048;
    if (!(RSA_SIZES as readonly number[]).includes(size))
      throw badParameter(
        'key_size',
        `Field "key_size" is ${size}; RSA keys are ${RSA_SIZES.join(', ')} bits.`,
      );
    if (body.public_exponent !== undefined && body.public_exponent !== 65537)
      throw badParameter('public_exponent', 'Field "public_exponent" must be 65537.');
    return { kty: 'RSA', size };
  }
  if (body.kty === 'oct') {
    const size = body.key_size ?? OCT_BITS;
    if (size !== OCT_BITS)
      throw badParameter('key_size', `Field "key_size" is ${size}; oct keys are ${OCT_BITS} bits.`);
    return { kty: 'oct', size };
  }
  throw badParameter(
    'kty',
    `Field "kty" is "${body.kty}"; the broker makes RSA and oct keys (no HSM or EC).`,
  );
}

/** Reads a create-key body (`POST /keys/{name}/create`). */
export function parseCreateBody(body: unknown): CreateKeyRequest {
  const parsed = parseWith(createSchema, body);
  const { kty, size } = typeAndSize(parsed);
  const policy = policyOf(parsed.release_policy);
  return {
    kty,
    size,
    enabled: parsed.attributes?.enabled ?? true,
    exportable: parsed.attributes?.exportable ?? false,
    keyOps: opsOf(parsed.key_ops, DEFAULT_KEY_OPS),
    ...(parsed.tags ? { tags: parsed.tags } : {}),
    ...(policy ? { releasePolicy: policy } : {}),
  };
}

/** Reads an update body (`PATCH /keys/{name}/{version}`). */
export function parseUpdateBody(body: unknown): UpdateKeyRequest {
  const parsed = parseWith(updateSchema, body);
  if (parsed.attributes?.exportable !== undefined)
    throw badParameter(
      'attributes.exportable',
      'Field "attributes.exportable" cannot change after creation.',
    );
  const policy = policyOf(parsed.release_policy);
  return {
    ...(parsed.attributes?.enabled === undefined ? {} : { enabled: parsed.attributes.enabled }),
    ...(parsed.key_ops === undefined ? {} : { keyOps: opsOf(parsed.key_ops, []) }),
    ...(parsed.tags ? { tags: parsed.tags } : {}),
    ...(policy ? { releasePolicy: policy } : {}),
  };
}

/** Reads a wrapkey/unwrapkey body: the algorithm and the value's bytes. The caller wipes `value`. */
export function parseOperationBody(body: unknown): { alg: string; value: Buffer } {
  const parsed = parseWith(operationSchema, body);
  return { alg: parsed.alg, value: Buffer.from(parsed.value, 'base64url') };
}

/** Reads a release body: the attestation token, and the optional nonce and wrapping algorithm. */
export function parseReleaseBody(body: unknown): { target: string; nonce?: string; enc?: string } {
  const parsed = parseWith(releaseSchema, body);
  return {
    target: parsed.target,
    ...(parsed.nonce === undefined ? {} : { nonce: parsed.nonce }),
    ...(parsed.enc === undefined ? {} : { enc: parsed.enc }),
  };
}

/** The key identifier Key Vault clients parse: `<vault>/keys/<name>/<version>`. */
export function kidOf(vaultUrl: string, name: string, version: string): string {
  return `${vaultUrl}/keys/${name}/${version}`;
}

function attributesOf(v: StoredKeyVersion) {
  return {
    enabled: v.enabled,
    created: v.created,
    updated: v.updated,
    exportable: v.exportable,
    recoveryLevel: 'Purgeable',
    recoverableDays: 0,
  };
}

/** A Key Vault key bundle for one version: public members only, never `d` or `k`. */
export function keyBundle(vaultUrl: string, name: string, v: StoredKeyVersion): Record<string, unknown> {
  const key = {
    kid: kidOf(vaultUrl, name, v.version),
    kty: v.kty,
    key_ops: v.keyOps,
    ...(v.kty === 'RSA' ? rsaPublicJwk(v) : {}),
  };
  return {
    key,
    attributes: attributesOf(v),
    ...(v.tags ? { tags: v.tags } : {}),
    ...(v.releasePolicy === undefined
      ? {}
      : {
          release_policy: {
            contentType: POLICY_CONTENT_TYPE,
            immutable: v.releasePolicyImmutable ?? false,
            data: Buffer.from(JSON.stringify(v.releasePolicy)).toString('base64url'),
          },
        }),
  };
}

/** A Key Vault key item (listings): identifier, attributes and tags. */
export function keyItem(
  vaultUrl: string,
  name: string,
  v: StoredKeyVersion,
  withVersion = true,
): Record<string, unknown> {
  const kid = withVersion ? kidOf(vaultUrl, name, v.version) : `${vaultUrl}/keys/${name}`;
  return { kid, attributes: attributesOf(v), ...(v.tags ? { tags: v.tags } : {}) };
}
