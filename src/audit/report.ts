/**
 * What `audit verify` can find. `unsigned-tail` is a warning unless verification is strict; every
 * other kind is an error.
 */
export type AuditProblemKind =
  | 'edited'
  | 'deleted'
  | 'inserted'
  | 'reordered'
  | 'truncated'
  | 'malformed'
  | 'bad-signature'
  | 'unsigned-tail'
  | 'head-mismatch';

/** One finding, naming the entry by `seq` and 1-based `line` where they are known. */
export interface AuditProblem {
  /** What happened. */
  readonly kind: AuditProblemKind;
  /** `error` makes the report fail; `warning` does not. */
  readonly severity: 'error' | 'warning';
  /** The input the finding was made in or against: `audit.jsonl`, `heads.jsonl` or the pinned head. */
  readonly source: 'log' | 'heads' | 'pinned';
  /** The `seq` of the entry concerned (for `truncated`: the first missing one), when known. */
  readonly seq?: number;
  /** The 1-based line in the file named by `source`, when there is one. */
  readonly line?: number;
  /** One sentence for a person. */
  readonly message: string;
}

/** The outcome of verifying an audit log: every problem, not only the first. */
export interface AuditVerifyReport {
  /** True when no problem has severity `error`. */
  readonly ok: boolean;
  /** Lines in `audit.jsonl` (each should be one entry). */
  readonly entries: number;
  /** Highest `seq` vouched for by a valid signed head (or the pinned head) matching the log. */
  readonly signedThrough: number | null;
  /** The newest valid entry, to export and pin next time with `expectedHead`. */
  readonly last: { readonly seq: number; readonly hash: string } | null;
  /** Everything found, in file order within each step. */
  readonly problems: readonly AuditProblem[];
}
