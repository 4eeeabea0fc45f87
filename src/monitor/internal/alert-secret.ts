import { createSecretKey, type KeyObject } from 'node:crypto';
import { open } from 'node:fs/promises';
import { hasSystemCode, SealtrainError } from '../../errors/index.js';

/** Limits on a webhook secret file, in bytes (after the trailing newline is removed). */
export const SECRET_LIMITS = { min: 16, max: 4096 } as const;

/** Limit on a CA certificate file. */
const CA_MAX_BYTES = 1024 * 1024;

/** Where a file was named: the rules file and the field, for messages. */
export interface NamedBy {
  readonly source: string;
  readonly field: string;
}

function invalid(at: NamedBy, path: string, problem: string, cause?: unknown): SealtrainError {
  return new SealtrainError(
    'ERR_MONITOR_RULES_INVALID',
    `The alert rules file ${at.source} is invalid: ${at.field}: ${path} ${problem}.`,
    { details: { path: at.source, field: at.field, file: path }, ...(cause ? { cause } : {}) },
  );
}

function unreadable(error: unknown): string {
  if (hasSystemCode(error, 'ENOENT')) return 'does not exist';
  if (hasSystemCode(error, 'EACCES')) return 'cannot be read (permission denied)';
  if (hasSystemCode(error, 'EISDIR')) return 'is a folder, not a file';
  return 'cannot be read';
}

/**
 * Reads a webhook's HMAC secret once: a regular file of 16 to 4096 bytes (one trailing newline is
 * not part of it) that neither group nor others may read or write. The bytes go into a
 * `KeyObject` and the buffer is wiped; the value never appears in a message.
 *
 * @throws {SealtrainError} `ERR_MONITOR_RULES_INVALID` naming the rules file, the field and the
 *   secret file's path.
 */
export async function readWebhookSecret(path: string, at: NamedBy): Promise<KeyObject> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw invalid(at, path, unreadable(error), error);
  }
  let bytes: Buffer | undefined;
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw invalid(at, path, 'is not a regular file');
    if (process.platform !== 'win32' && (info.mode & 0o077) !== 0)
      throw invalid(
        at,
        path,
        `is open to group or others (mode ${(info.mode & 0o777).toString(8)}); make it readable by its owner only: chmod 600 ${path}`,
      );
    bytes = Buffer.alloc(SECRET_LIMITS.max + 2);
    const { bytesRead } = await handle.read(bytes, 0, bytes.length, 0);
    let end = bytesRead;
    if (end > 0 && bytes[end - 1] === 0x0a) end--;
    if (end > 0 && bytes[end - 1] === 0x0d) end--;
    if (end > SECRET_LIMITS.max) throw invalid(at, path, `is over ${SECRET_LIMITS.max} bytes`);
    if (end < SECRET_LIMITS.min)
      throw invalid(at, path, `holds fewer than ${SECRET_LIMITS.min} bytes: too short for a secret`);
    return createSecretKey(bytes.subarray(0, end));
  } catch (error) {
    if (error instanceof SealtrainError) throw error;
    throw invalid(at, path, unreadable(error), error);
  } finally {
    bytes?.fill(0);
    await handle.close();
  }
}

/**
 * Reads a CA certificate file (PEM) to trust for one webhook.
 *
 * @throws {SealtrainError} `ERR_MONITOR_RULES_INVALID` when it is missing, too large or holds no
 *   certificate.
 */
export async function readCaFile(path: string, at: NamedBy): Promise<string> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw invalid(at, path, unreadable(error), error);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw invalid(at, path, 'is not a regular file');
    if (info.size > CA_MAX_BYTES) throw invalid(at, path, `is over ${CA_MAX_BYTES} bytes`);
    const text = await handle.readFile('utf8');
    if (!text.includes('-----BEGIN CERTIFICATE-----'))
      throw invalid(at, path, 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
    return text;
  } catch (error) {
    if (error instanceof SealtrainError) throw error;
    throw invalid(at, path, unreadable(error), error);
  } finally {
    await handle.close();
  }
}
