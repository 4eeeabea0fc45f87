/**
 * One audited operation, as producers hand it to {@link AuditSink.record}. Facts only: never key
 * material, passphrases or plaintext. Structurally identical to `AuditEvent` in `src/kms`, so
 * either can be passed where the other is expected.
 */
export interface AuditEvent {
  /** Who acted, e.g. `alice@host` or `demo:alice@host`. */
  readonly actor: string;
  /** What was done, e.g. `keys.rotate`, `keys.unwrap`, `seal`. */
  readonly action: string;
  /** Whether it succeeded. */
  readonly outcome: 'ok' | 'error';
  /** The key involved: its URI without a version, and the version when known. */
  readonly key?: { readonly uri: string; readonly version?: string };
  /** The file involved and its digest (hex): for sealed files, the body digest of the sealed-file spec. */
  readonly file?: { readonly path: string; readonly sha256: string };
  /** The error code when `outcome` is `error`. */
  readonly code?: string;
  /** Other facts a reviewer can read; values are primitives only. */
  readonly details?: Readonly<Record<string, string | number | boolean>>;
}

/**
 * Where audited operations go. Guarantee: when `record` resolves, the event is stored; when it
 * rejects, it may not be, and the caller decides whether the operation still counts.
 */
export interface AuditSink {
  /** Stores one event. */
  record(event: AuditEvent): Promise<void>;
}
