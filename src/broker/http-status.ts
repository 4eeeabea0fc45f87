/**
 * The one place that chooses HTTP statuses. Every failure reaching a client passes through
 * {@link httpErrorFor}, which maps a {@link SealtrainError}'s code (and, for broker codes, its
 * `details.reason`) to a status and a Key Vault error code, in Key Vault's body shape
 * `{ "error": { "code", "message" } }`. Anything that is not a SealtrainError becomes a 500 whose
 * message says nothing about the cause.
 *
 * @module
 */
import { type ErrorCode, isSealtrainError } from '../errors/index.js';

/** A response for a failure: status, Key Vault error code and message. */
export interface HttpError {
  readonly status: number;
  /** Key Vault's `error.code`, e.g. `Unauthorized`, `KeyNotFound`, `BadParameter`. */
  readonly kvCode: string;
  readonly message: string;
}

/** Statuses for the `details.reason` values the broker's own codes carry. */
const BY_REASON: Readonly<Record<string, readonly [number, string]>> = {
  unauthenticated: [401, 'Unauthorized'],
  'token-expired': [401, 'Unauthorized'],
  'token-revoked': [401, 'Unauthorized'],
  forbidden: [403, 'Forbidden'],
  'operation-not-allowed': [403, 'Forbidden'],
  'bad-parameter': [400, 'BadParameter'],
  'bad-api-version': [400, 'BadParameter'],
  'not-json': [400, 'BadParameter'],
  'not-found': [404, 'NotFound'],
  'method-not-allowed': [405, 'MethodNotAllowed'],
  'body-too-large': [413, 'RequestTooLarge'],
  'rate-limited': [429, 'Throttled'],
  'nonce-store-full': [429, 'Throttled'],
  'unsupported-media-type': [415, 'UnsupportedMediaType'],
};

/** Statuses for every other code a request can end in. */
const BY_CODE: Partial<Readonly<Record<ErrorCode, readonly [number, string]>>> = {
  ERR_KMS_KEY_NOT_FOUND: [404, 'KeyNotFound'],
  ERR_KMS_VERSION_NOT_FOUND: [404, 'KeyNotFound'],
  ERR_KMS_KEY_DISABLED: [403, 'Forbidden'],
  ERR_KMS_UNWRAP_FAILED: [400, 'BadParameter'],
  ERR_POLICY_INVALID: [400, 'BadParameter'],
  ERR_RELEASE_DENIED: [403, 'AccessDenied'],
  ERR_ATTEST_MALFORMED: [400, 'BadParameter'],
  ERR_ATTEST_UNSUPPORTED: [400, 'BadParameter'],
  ERR_ATTEST_REJECTED: [403, 'AttestationRejected'],
  ERR_USAGE_INVALID: [400, 'BadParameter'],
};

const INTERNAL: HttpError = {
  status: 500,
  kvCode: 'InternalError',
  message: 'The broker failed; see its log.',
};

/** The status, Key Vault code and message for `error`. */
export function httpErrorFor(error: unknown): HttpError {
  if (!isSealtrainError(error)) return INTERNAL;
  const reason = error.details.reason;
  const fromReason =
    (error.code === 'ERR_BROKER_AUTH' || error.code === 'ERR_BROKER_REQUEST') && typeof reason === 'string'
      ? BY_REASON[reason]
      : undefined;
  const chosen = fromReason ?? BY_CODE[error.code];
  if (chosen) return { status: chosen[0], kvCode: chosen[1], message: error.message };
  if (error.code === 'ERR_BROKER_AUTH') return { status: 403, kvCode: 'Forbidden', message: error.message };
  if (error.code === 'ERR_BROKER_REQUEST')
    return { status: 400, kvCode: 'BadParameter', message: error.message };
  return INTERNAL;
}

/** Key Vault's error body. */
export function errorBody(error: HttpError): { error: { code: string; message: string } } {
  return { error: { code: error.kvCode, message: error.message } };
}
