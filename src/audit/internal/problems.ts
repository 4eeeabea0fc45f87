import type { AuditProblem, AuditProblemKind } from '../report.js';

/** Where a problem is: the entry's seq and the 1-based line, each when known. */
export interface Where {
  readonly seq?: number | undefined;
  readonly line?: number | undefined;
}

/** Builds an {@link AuditProblem}, leaving out unknown positions. */
export function problem(
  kind: AuditProblemKind,
  source: AuditProblem['source'],
  message: string,
  where: Where = {},
  severity: AuditProblem['severity'] = 'error',
): AuditProblem {
  return {
    kind,
    severity,
    source,
    ...(where.seq === undefined ? {} : { seq: where.seq }),
    ...(where.line === undefined ? {} : { line: where.line }),
    message,
  };
}

/** The first 12 hex digits of a hash, for messages. */
export function short(hash: string): string {
  return `${hash.slice(0, 12)}…`;
}

/** `seq a` or `seq a–b`. */
export function seqRange(first: number, last: number): string {
  return first === last ? `seq ${first}` : `seq ${first}–${last}`;
}
