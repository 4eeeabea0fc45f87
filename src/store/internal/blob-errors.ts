import { SealtrainError } from '../../errors/index.js';

/** The HTTP status and service error code of an Azure SDK `RestError`, if any. */
function statusOf(error: unknown): { status?: number; code?: string } {
  if (typeof error !== 'object' || error === null) return {};
  const e = error as { statusCode?: unknown; code?: unknown };
  return {
    ...(typeof e.statusCode === 'number' ? { status: e.statusCode } : {}),
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
  };
}

/**
 * Turns an Azure Storage SDK error into a {@link SealtrainError} naming `uri`: 404 → `ERR_IO_NOT_FOUND`,
 * 409/412 on a conditional create → `ERR_IO_EXISTS`, 416 → `ERR_USAGE_INVALID`, anything else
 * `ERR_IO_FAILED` with the service's error code (never a credential or a signed URL).
 */
export function fromBlobError(error: unknown, action: string, uri: string): SealtrainError {
  if (error instanceof SealtrainError) return error;
  const { status, code } = statusOf(error);
  const details = {
    uri,
    ...(status === undefined ? {} : { status }),
    ...(code === undefined ? {} : { service_code: code }),
  };
  if (status === 404) {
    const what = code === 'ContainerNotFound' ? 'the container does not exist' : 'no such blob';
    return new SealtrainError('ERR_IO_NOT_FOUND', `Cannot ${action} ${uri}: ${what}.`, {
      cause: error,
      details,
    });
  }
  if (status === 409 || status === 412) {
    return new SealtrainError('ERR_IO_EXISTS', `Cannot ${action} ${uri}: it already exists.`, {
      cause: error,
      details,
    });
  }
  if (status === 416) {
    return new SealtrainError(
      'ERR_USAGE_INVALID',
      `Cannot ${action} ${uri}: the range is outside the blob.`,
      {
        cause: error,
        details,
      },
    );
  }
  const reason =
    status === 401 || status === 403
      ? 'access denied; check the credential and its role on the storage account'
      : status === undefined
        ? error instanceof Error
          ? error.message
          : String(error)
        : `the service answered ${status}${code === undefined ? '' : ` (${code})`}`;
  return new SealtrainError('ERR_IO_FAILED', `Cannot ${action} ${uri}: ${reason}.`, {
    cause: error,
    details,
  });
}

/** `ERR_IO_CHANGED`: a conditional request found the blob changed since it was first read. */
export function changedMeanwhile(uri: string, cause: unknown, action: 'replace' | 'read'): SealtrainError {
  const during =
    action === 'replace' ? 'rewritten; nothing was replaced' : 'read; nothing was written from it';
  return new SealtrainError(
    'ERR_IO_CHANGED',
    `Cannot ${action} ${uri}: it changed while it was being ${during}, run the command again.`,
    { cause, details: { uri } },
  );
}
