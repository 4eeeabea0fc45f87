import { isSealtrainError, SealtrainError } from '../errors/index.js';
import type { KeyProvider } from './key-provider.js';

/** A {@link KeyProvider} that opens on first use; `close` closes it if it was opened. */
export interface DeferredProvider extends KeyProvider {
  close(): Promise<void>;
}

/**
 * A provider for `scheme` opened by `open` on first use, with the key URI that needed it (none for
 * name-based calls such as `create`). A command can offer every scheme while only the keyrings and
 * tokens it touches ask for their passphrase or PIN. A failed open is not remembered, so the
 * error repeats for each call.
 *
 * When `unwrap` cannot open the provider and `unavailable(error)` says why is that it is not set
 * up here (no keyring, no module configured), the error becomes `ERR_KMS_KEY_NOT_FOUND` with the same message, so
 * a file sealed for several recipients still opens with another recipient's key. Other failures,
 * such as a wrong passphrase or PIN, stay as they are.
 */
export function deferredProvider(
  scheme: string,
  open: (uri: string | undefined) => Promise<KeyProvider & { close?(): unknown }>,
  options: { unavailable?: (error: SealtrainError) => boolean } = {},
): DeferredProvider {
  let opened: Promise<KeyProvider & { close?(): unknown }> | undefined;
  const get = (uri?: string): Promise<KeyProvider & { close?(): unknown }> => {
    if (!opened) {
      opened = open(uri);
      opened.catch(() => {
        opened = undefined;
      });
    }
    return opened;
  };
  return {
    scheme,
    create: async (name) => (await get()).create(name),
    rotate: async (name) => (await get()).rotate(name),
    listVersions: async (name) => (await get()).listVersions(name),
    list: async () => (await get()).list(),
    disableVersion: async (name, version) => (await get()).disableVersion(name, version),
    wrap: async (uri, dek) => (await get(uri)).wrap(uri, dek),
    async unwrap(wrapped) {
      let provider: KeyProvider;
      try {
        provider = await get(wrapped.uri);
      } catch (error) {
        throw notHere(error, options.unavailable ?? (() => false));
      }
      return provider.unwrap(wrapped);
    },
    async close() {
      const current = opened;
      opened = undefined;
      if (current) await (await current.catch(() => undefined))?.close?.();
    },
  };
}

function notHere(error: unknown, unavailable: (error: SealtrainError) => boolean): unknown {
  if (!isSealtrainError(error) || !unavailable(error)) return error;
  return new SealtrainError('ERR_KMS_KEY_NOT_FOUND', error.message, { cause: error, details: error.details });
}
