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
 */
export function deferredProvider(
  scheme: string,
  open: (uri: string | undefined) => Promise<KeyProvider & { close?(): unknown }>,
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
    unwrap: async (wrapped) => (await get(wrapped.uri)).unwrap(wrapped),
    async close() {
      const current = opened;
      opened = undefined;
      if (current) await (await current.catch(() => undefined))?.close?.();
    },
  };
}
