import { readFile } from 'node:fs/promises';
import { fromFsError, hasSystemCode, SealtrainError } from '../../errors/index.js';
import type { AuditPaths } from './log-files.js';

/** Reads `audit.jsonl`, or throws `ERR_AUDIT_LOG_NOT_FOUND` naming the folder. */
export async function readLogText(paths: AuditPaths): Promise<string> {
  try {
    return await readFile(paths.log, 'utf8');
  } catch (error) {
    if (hasSystemCode(error, 'ENOENT')) {
      throw new SealtrainError(
        'ERR_AUDIT_LOG_NOT_FOUND',
        `No audit log in ${paths.dir}: ${paths.log} does not exist (the first audited command creates it).`,
        { details: { path: paths.log } },
      );
    }
    throw fromFsError(error, 'read', paths.log);
  }
}

/** Reads `heads.jsonl`; a missing file has no heads. */
export async function readHeadsText(paths: AuditPaths): Promise<string> {
  try {
    return await readFile(paths.heads, 'utf8');
  } catch (error) {
    if (hasSystemCode(error, 'ENOENT')) return '';
    throw fromFsError(error, 'read', paths.heads);
  }
}
