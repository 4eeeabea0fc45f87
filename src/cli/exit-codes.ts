import { type ErrorCode, isSealtrainError } from '../errors/index.js';

/**
 * The one table that maps error codes to process exit codes. `docs/errors.md` lists the same
 * table; `test/cli/exit-codes.test.ts` keeps them equal. 0 is success, 1 is unused, 130 is an
 * interrupt (Ctrl-C).
 */
export const EXIT_CODES: Readonly<Record<ErrorCode, number>> = {
  ERR_USAGE_INVALID: 2,
  ERR_IO_NOT_FOUND: 10,
  ERR_IO_EXISTS: 11,
  ERR_IO_NO_SPACE: 12,
  ERR_IO_FAILED: 13,
  ERR_IO_CHANGED: 14,
  ERR_SEAL_NOT_SEALED: 20,
  ERR_SEAL_UNSUPPORTED_VERSION: 21,
  ERR_SEAL_MALFORMED_HEADER: 22,
  ERR_SEAL_HEADER_TAMPERED: 23,
  ERR_SEAL_DECRYPT_FAILED: 24,
  ERR_SEAL_TRUNCATED: 25,
  ERR_SEAL_NO_RECIPIENT: 26,
  ERR_SEAL_LIMIT: 27,
  ERR_KMS_BAD_URI: 40,
  ERR_KMS_KEYRING_NOT_FOUND: 41,
  ERR_KMS_KEYRING_EXISTS: 42,
  ERR_KMS_KEYRING_CORRUPT: 43,
  ERR_KMS_KEYRING_LOCKED: 44,
  ERR_KMS_WRONG_PASSPHRASE: 45,
  ERR_KMS_PASSPHRASE_REQUIRED: 46,
  ERR_KMS_KEY_NOT_FOUND: 47,
  ERR_KMS_KEY_EXISTS: 48,
  ERR_KMS_VERSION_NOT_FOUND: 49,
  ERR_KMS_KEY_DISABLED: 50,
  ERR_KMS_UNWRAP_FAILED: 51,
  ERR_AUDIT_LOG_NOT_FOUND: 60,
  ERR_AUDIT_VERIFY_FAILED: 61,
  ERR_AUDIT_SIGNING_KEY: 62,
  ERR_ATTEST_MALFORMED: 80,
  ERR_ATTEST_UNSUPPORTED: 81,
  ERR_ATTEST_REJECTED: 82,
  ERR_ATTEST_NO_TEE: 83,
  ERR_ATTEST_COLLECT_FAILED: 84,
  ERR_ATTEST_POLICY_INVALID: 85,
  ERR_POLICY_INVALID: 90,
  ERR_RELEASE_DENIED: 91,
  ERR_BROKER_STATE: 92,
  ERR_BROKER_AUTH: 93,
  ERR_BROKER_REQUEST: 94,
  ERR_TRAIN_CONFIG_INVALID: 100,
  ERR_TRAIN_DATA_INVALID: 101,
  ERR_TRAIN_DIVERGED: 102,
  ERR_TRAIN_BAD_MODEL: 103,
  ERR_DATA_MALFORMED: 110,
  ERR_INTERNAL: 70,
};

/** Exit status after Ctrl-C or SIGTERM. */
export const EXIT_INTERRUPTED = 130;

/** The exit code for any thrown value; unknown errors are internal errors. */
export function exitCodeFor(error: unknown): number {
  return isSealtrainError(error) ? EXIT_CODES[error.code] : EXIT_CODES.ERR_INTERNAL;
}
