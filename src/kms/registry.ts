import { SealtrainError } from '../errors/index.js';
import type { KeyProvider } from './key-provider.js';

/**
 * The provider whose scheme matches `uri` (`local:alice` → the `local` provider).
 * `ERR_KMS_BAD_URI` listing the supported schemes when none does.
 */
export function providerFor(uri: string, providers: readonly KeyProvider[]): KeyProvider {
  const colon = uri.indexOf(':');
  const scheme = colon > 0 ? uri.slice(0, colon) : undefined;
  const provider = scheme === undefined ? undefined : providers.find((p) => p.scheme === scheme);
  if (provider) return provider;
  const supported = providers.map((p) => `${p.scheme}:`).join(', ') || 'none configured';
  const problem = scheme === undefined ? 'has no scheme' : `uses the unsupported scheme "${scheme}:"`;
  throw new SealtrainError(
    'ERR_KMS_BAD_URI',
    `Key URI ${JSON.stringify(uri)} ${problem}; supported schemes: ${supported}.`,
    { details: { uri, supported: providers.map((p) => p.scheme) } },
  );
}
