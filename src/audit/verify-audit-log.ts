import { auditPaths, splitLines } from './internal/log-files.js';
import { readHeadsText, readLogText } from './internal/read-files.js';
import { parsePublicKeyPem, readPublicKey } from './internal/signing-key.js';
import type { AuditVerifyReport } from './report.js';
import { type VerifyChainOptions, verifyChain } from './verify-chain.js';

/** Options for {@link verifyAuditLog}. */
export interface VerifyAuditLogOptions extends VerifyChainOptions {
  /**
   * The public key (SPKI PEM) the heads must be signed with. Default: `signing-key.pub.pem` from
   * the folder itself, which an attacker who can write the folder can replace; pin it.
   */
  readonly publicKeyPem?: string;
}

/**
 * Verifies the audit log in `dir` (see {@link verifyChain}) and returns the report; a failed
 * verification is a report with `ok: false`, not an exception.
 *
 * @throws {SealtrainError} `ERR_AUDIT_LOG_NOT_FOUND` when there is no `audit.jsonl`;
 *   `ERR_AUDIT_SIGNING_KEY` when the public key is missing or not an Ed25519 PEM key.
 */
export async function verifyAuditLog(
  dir: string,
  options: VerifyAuditLogOptions = {},
): Promise<AuditVerifyReport> {
  const paths = auditPaths(dir);
  const logText = await readLogText(paths);
  const headsText = await readHeadsText(paths);
  const publicKey =
    options.publicKeyPem === undefined
      ? await readPublicKey(paths.pub)
      : parsePublicKeyPem(options.publicKeyPem);
  const { publicKeyPem: _pem, ...chainOptions } = options;
  return verifyChain(splitLines(logText), splitLines(headsText), publicKey, chainOptions);
}
