import { isSealtrainError, SealtrainError } from '../../errors/index.js';
import type { AuditSink } from '../../kms/index.js';
import { type KeyProvider, providerFor, type WrappedKey } from '../../kms/index.js';
import { MAX_RECIPIENTS } from './layout.js';
import type { UnwrapFn } from './open-header.js';

/** Wraps `dek` for every key URI, in order. */
export async function wrapForAll(
  uris: readonly string[],
  providers: readonly KeyProvider[],
  dek: Uint8Array,
): Promise<WrappedKey[]> {
  if (uris.length < 1 || uris.length > MAX_RECIPIENTS) {
    throw new SealtrainError(
      'ERR_SEAL_LIMIT',
      `A sealed file needs 1 to ${MAX_RECIPIENTS} recipients (--key); got ${uris.length}.`,
      {
        details: { field: 'recipients' },
      },
    );
  }
  const out: WrappedKey[] = [];
  for (const uri of uris) out.push(await providerFor(uri, providers).wrap(uri, dek));
  return out;
}

/** The distinct key URIs (without versions) of a file's recipients: rotation's default targets. */
export function keyUrisOf(recipients: readonly WrappedKey[]): string[] {
  return [...new Set(recipients.map((r) => r.uri))];
}

/** Base URI of a `scheme:name/version` URI, for matching `--key` against recipients. */
function matches(filter: string, r: WrappedKey): boolean {
  return filter === r.uri || filter === `${r.uri}/${r.version}`;
}

/**
 * An unwrap function over `providers`. With `only`, recipients that none of those URIs name are
 * skipped as if no key existed for them.
 */
export function unwrapWith(providers: readonly KeyProvider[], only?: readonly string[]): UnwrapFn {
  return async (recipient) => {
    if (only && only.length > 0 && !only.some((f) => matches(f, recipient))) {
      throw new SealtrainError('ERR_KMS_KEY_NOT_FOUND', `Key ${recipient.uri} was not selected with --key.`);
    }
    return providerFor(recipient.uri, providers).unwrap(recipient);
  };
}

/** Audit context for seal operations. */
export interface AuditContext {
  readonly sink: AuditSink;
  readonly actor: string;
}

/** Records one seal-family operation; never lets an audit failure hide the original error. */
export async function recordSealEvent(
  audit: AuditContext | undefined,
  action: string,
  facts: { path: string; sha256?: string; recipients?: readonly WrappedKey[]; error?: unknown },
): Promise<void> {
  if (!audit) return;
  const first = facts.recipients?.[0];
  const code = isSealtrainError(facts.error) ? facts.error.code : facts.error ? 'ERR_INTERNAL' : undefined;
  await audit.sink.record({
    actor: audit.actor,
    action,
    outcome: facts.error ? 'error' : 'ok',
    ...(first ? { key: { uri: first.uri, version: first.version } } : {}),
    ...(facts.sha256 ? { file: { path: facts.path, sha256: facts.sha256 } } : {}),
    ...(code ? { code } : {}),
    details: {
      path: facts.path,
      ...(facts.recipients
        ? { recipients: facts.recipients.map((r) => `${r.uri}/${r.version}`).join(',') }
        : {}),
    },
  });
}
