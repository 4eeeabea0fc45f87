import { isSealtrainError } from '../errors/index.js';
import type { AuditEvent, AuditSink } from './audit-sink.js';
import type { KeyProvider, KeyVersionInfo, WrappedKey } from './key-provider.js';

type KeyFacts = NonNullable<AuditEvent['key']>;

/** `scheme:name/version` → its URI without the version and the version. */
function splitUri(uri: string): KeyFacts {
  const colon = uri.indexOf(':');
  const slash = uri.indexOf('/', colon + 1);
  return colon > 0 && slash > colon ? { uri: uri.slice(0, slash), version: uri.slice(slash + 1) } : { uri };
}

function infoFacts(info: KeyVersionInfo): KeyFacts {
  return { uri: info.uri, version: info.version };
}

/**
 * Runs `op`, then records one event with its outcome. A failed operation's error is re-thrown
 * even when recording fails; a successful one fails when its event cannot be recorded, after
 * `onUnrecorded` has had the chance to wipe the result.
 */
async function audited<T>(
  sink: AuditSink,
  base: { actor: string; action: string; key: KeyFacts },
  op: () => Promise<T>,
  facts: (result: T) => KeyFacts,
  onUnrecorded?: (result: T) => void,
): Promise<T> {
  let result: T;
  try {
    result = await op();
  } catch (error) {
    const code = isSealtrainError(error) ? error.code : 'ERR_INTERNAL';
    await sink.record({ ...base, outcome: 'error', code }).catch(() => {});
    throw error;
  }
  try {
    await sink.record({ ...base, outcome: 'ok', key: facts(result) });
  } catch (error) {
    onUnrecorded?.(result);
    throw error;
  }
  return result;
}

/**
 * A {@link KeyProvider} that records every `create`, `rotate`, `disableVersion`, `wrap` and
 * `unwrap` of `inner` in `sink` as `keys.<operation>` by `actor`, with the outcome, the key URI
 * and version and, on failure, the error code; errors are re-thrown unchanged. Listing is not
 * recorded. An operation whose event cannot be recorded fails (an unwrapped key is wiped first).
 */
export function auditedProvider(inner: KeyProvider, sink: AuditSink, actor: string): KeyProvider {
  const keyOf = (name: string): KeyFacts => ({ uri: `${inner.scheme}:${name}` });
  return {
    scheme: inner.scheme,
    create: (name) =>
      audited(sink, { actor, action: 'keys.create', key: keyOf(name) }, () => inner.create(name), infoFacts),
    rotate: (name) =>
      audited(sink, { actor, action: 'keys.rotate', key: keyOf(name) }, () => inner.rotate(name), infoFacts),
    disableVersion: (name, version) =>
      audited(
        sink,
        { actor, action: 'keys.disable', key: { ...keyOf(name), version } },
        () => inner.disableVersion(name, version),
        infoFacts,
      ),
    listVersions: (name) => inner.listVersions(name),
    list: () => inner.list(),
    wrap: (uri, dek) =>
      audited(
        sink,
        { actor, action: 'keys.wrap', key: splitUri(uri) },
        () => inner.wrap(uri, dek),
        (w: WrappedKey) => ({
          uri: w.uri,
          version: w.version,
        }),
      ),
    unwrap: (wrapped) => {
      const key = { uri: wrapped.uri, version: wrapped.version };
      return audited(
        sink,
        { actor, action: 'keys.unwrap', key },
        () => inner.unwrap(wrapped),
        () => key,
        (dek) => dek.fill(0),
      );
    },
  };
}
