/**
 * The one error type sealtrain throws on purpose.
 *
 * Every failure a user can cause carries a stable `code` from {@link ERROR_CODES}. Codes are
 * public API: scripts match on them, the CLI maps each to its own exit code
 * (`src/cli/exit-codes.ts`), and `docs/errors.md` lists them; a test keeps the three equal.
 *
 * @module
 */

/** Every error code sealtrain can report, grouped by area. */
export const ERROR_CODES = [
  'ERR_USAGE_INVALID',
  'ERR_IO_NOT_FOUND',
  'ERR_IO_EXISTS',
  'ERR_IO_NO_SPACE',
  'ERR_IO_FAILED',
  'ERR_IO_CHANGED',
  'ERR_SEAL_NOT_SEALED',
  'ERR_SEAL_UNSUPPORTED_VERSION',
  'ERR_SEAL_MALFORMED_HEADER',
  'ERR_SEAL_HEADER_TAMPERED',
  'ERR_SEAL_DECRYPT_FAILED',
  'ERR_SEAL_TRUNCATED',
  'ERR_SEAL_NO_RECIPIENT',
  'ERR_SEAL_LIMIT',
  'ERR_KMS_BAD_URI',
  'ERR_KMS_KEYRING_NOT_FOUND',
  'ERR_KMS_KEYRING_EXISTS',
  'ERR_KMS_KEYRING_CORRUPT',
  'ERR_KMS_KEYRING_LOCKED',
  'ERR_KMS_WRONG_PASSPHRASE',
  'ERR_KMS_PASSPHRASE_REQUIRED',
  'ERR_KMS_KEY_NOT_FOUND',
  'ERR_KMS_KEY_EXISTS',
  'ERR_KMS_VERSION_NOT_FOUND',
  'ERR_KMS_KEY_DISABLED',
  'ERR_KMS_UNWRAP_FAILED',
  'ERR_AUDIT_LOG_NOT_FOUND',
  'ERR_AUDIT_VERIFY_FAILED',
  'ERR_AUDIT_SIGNING_KEY',
  'ERR_ATTEST_MALFORMED',
  'ERR_ATTEST_UNSUPPORTED',
  'ERR_ATTEST_REJECTED',
  'ERR_ATTEST_NO_TEE',
  'ERR_ATTEST_COLLECT_FAILED',
  'ERR_ATTEST_POLICY_INVALID',
  'ERR_POLICY_INVALID',
  'ERR_RELEASE_DENIED',
  'ERR_BROKER_STATE',
  'ERR_BROKER_AUTH',
  'ERR_BROKER_REQUEST',
  'ERR_TRAIN_CONFIG_INVALID',
  'ERR_TRAIN_DATA_INVALID',
  'ERR_TRAIN_DIVERGED',
  'ERR_TRAIN_BAD_MODEL',
  'ERR_DATA_MALFORMED',
  'ERR_DATA_SCHEMA_INVALID',
  'ERR_DATA_SCHEMA_MISMATCH',
  'ERR_DATA_INVALID',
  'ERR_DATA_CHECK_FAILED',
  'ERR_LINEAGE_INVALID',
  'ERR_RUN_STATE',
  'ERR_RUN_ROLLBACK',
  'ERR_RUN_CHECKPOINT_INVALID',
  'ERR_RUN_EXEC_FAILED',
  'ERR_RUN_NOT_ATTESTED',
  'ERR_RUN_STOPPED_BY_ALERT',
  'ERR_MONITOR_RULES_INVALID',
  'ERR_MONITOR_ALERTS_FIRED',
  'ERR_MONITOR_RUN_INVALID',
  'ERR_MONITOR_RENDER_FAILED',
  'ERR_MONITOR_REPORT_UNVERIFIED',
  'ERR_IAC_PARSE',
  'ERR_IAC_FINDINGS',
  'ERR_IAC_BASELINE_INVALID',
  'ERR_INTERNAL',
] as const;

/** A stable error code, `ERR_<AREA>_<REASON>`. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Structured facts about a failure (file, field, key URI); never secrets. */
export type ErrorDetails = Readonly<Record<string, string | number | boolean | readonly string[]>>;

/** Options for {@link SealtrainError}. */
export interface SealtrainErrorOptions {
  /** The underlying error, kept for diagnosis. */
  readonly cause?: unknown;
  /** Facts a script can read instead of parsing the message. */
  readonly details?: ErrorDetails;
}

/**
 * The base error. `message` is one sentence that names the action and the value (a file, field
 * or key URI) and, where it helps, what to do next. Decryption failures stay generic.
 */
export class SealtrainError extends Error {
  /** The stable code. */
  readonly code: ErrorCode;
  /** Structured facts about the failure. */
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, options: SealtrainErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SealtrainError';
    this.code = code;
    this.details = options.details ?? {};
  }

  /** A JSON shape for `--json` output. */
  toJSON(): { code: ErrorCode; message: string; details: ErrorDetails } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** True when `value` is a {@link SealtrainError}, optionally with the given code. */
export function isSealtrainError(value: unknown, code?: ErrorCode): value is SealtrainError {
  return value instanceof SealtrainError && (code === undefined || value.code === code);
}

/** True when `value` is a Node system error with the given `code` (e.g. `ENOENT`). */
export function hasSystemCode(value: unknown, code: string): boolean {
  return typeof value === 'object' && value !== null && (value as { code?: unknown }).code === code;
}

/**
 * Turns a Node file-system error into a {@link SealtrainError} that names the file.
 * Errors that are already ours pass through unchanged.
 */
export function fromFsError(error: unknown, action: string, path: string): SealtrainError {
  if (error instanceof SealtrainError) return error;
  const details = { path };
  if (hasSystemCode(error, 'ENOENT')) {
    return new SealtrainError('ERR_IO_NOT_FOUND', `Cannot ${action} ${path}: no such file or directory.`, {
      cause: error,
      details,
    });
  }
  if (hasSystemCode(error, 'EEXIST')) {
    return new SealtrainError(
      'ERR_IO_EXISTS',
      `Cannot ${action} ${path}: it already exists; pass --force to replace it.`,
      { cause: error, details },
    );
  }
  if (hasSystemCode(error, 'ENOSPC') || hasSystemCode(error, 'EDQUOT')) {
    return new SealtrainError(
      'ERR_IO_NO_SPACE',
      `Cannot ${action} ${path}: the disk is full; free space and try again (nothing was left behind).`,
      { cause: error, details },
    );
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new SealtrainError('ERR_IO_FAILED', `Cannot ${action} ${path}: ${reason}`, {
    cause: error,
    details,
  });
}
