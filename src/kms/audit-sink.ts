/**
 * One audited operation. Facts only: never key material, passphrases or plaintext.
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
  /** The file involved and the SHA-256 (hex) of its content. */
  readonly file?: { readonly path: string; readonly sha256: string };
  /** The error code when `outcome` is `error`. */
  readonly code?: string;
  /** Other facts a reviewer can read. */
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
