import type { AuditEntry } from './chain.js';
import { auditPaths, splitLines } from './internal/log-files.js';
import { parseEntryLine } from './internal/parse-log.js';
import { readLogText } from './internal/read-files.js';

/** Options for {@link readAuditEntries}. */
export interface ReadAuditEntriesOptions {
  /** Only the newest `limit` entries (after filtering). */
  readonly limit?: number;
  /** Only entries with exactly this action, e.g. `unseal`. */
  readonly action?: string;
}

/**
 * The valid entries of the audit log in `dir`, oldest first, for display. Lines that are not
 * valid entries are skipped without a word: this reads, {@link verifyAuditLog} checks.
 *
 * @throws {SealtrainError} `ERR_AUDIT_LOG_NOT_FOUND` when there is no `audit.jsonl`.
 */
export async function readAuditEntries(
  dir: string,
  options: ReadAuditEntriesOptions = {},
): Promise<AuditEntry[]> {
  const lines = splitLines(await readLogText(auditPaths(dir)));
  const entries: AuditEntry[] = [];
  lines.forEach((text, index) => {
    const parsed = parseEntryLine(text, index + 1);
    if ('entry' in parsed && (options.action === undefined || parsed.entry.action === options.action)) {
      entries.push(parsed.entry);
    }
  });
  return options.limit === undefined ? entries : entries.slice(Math.max(0, entries.length - options.limit));
}
