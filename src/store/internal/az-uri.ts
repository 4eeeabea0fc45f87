import { SealtrainError } from '../../errors/index.js';
import { checkStorePath } from './store-path.js';

/** The parts of an `az://account/container/path` URI. */
export interface AzUri {
  readonly account: string;
  readonly container: string;
  /** The blob path inside the container; empty when the URI names only the container. */
  readonly path: string;
}

const ACCOUNT = /^[a-z0-9]{3,24}$/;
const CONTAINER = /^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/;

function invalid(uri: string, why: string): SealtrainError {
  return new SealtrainError('ERR_USAGE_INVALID', `Invalid Azure Storage URI ${uri}: ${why}.`, {
    details: { uri },
  });
}

/**
 * Parses `az://account/container/path` (the path may be absent). Account names are 3–24 lower-case
 * letters or digits, container names 3–63 lower-case letters, digits and single hyphens (Azure's rules);
 * the path follows the artifact path rules.
 */
export function parseAzUri(uri: string): AzUri {
  if (typeof uri !== 'string' || !uri.startsWith('az://'))
    throw invalid(String(uri), 'it must start with az://');
  const rest = uri.slice('az://'.length);
  const [account = '', container = '', ...segments] = rest.split('/');
  if (!ACCOUNT.test(account))
    throw invalid(uri, `account ${JSON.stringify(account)} is not 3-24 lower-case letters or digits`);
  if (!CONTAINER.test(container))
    throw invalid(
      uri,
      `container ${JSON.stringify(container)} is not 3-63 lower-case letters, digits and single hyphens`,
    );
  const path = segments.join('/');
  if (path !== '') {
    try {
      checkStorePath(path);
    } catch (error) {
      throw invalid(
        uri,
        `path ${JSON.stringify(path)} is not a valid artifact path (${(error as Error).message})`,
      );
    }
  }
  return { account, container, path };
}

/** Formats the `az://` URI of `path` in a container. */
export function formatAzUri(account: string, container: string, path: string): string {
  return `az://${account}/${container}${path === '' ? '' : `/${path}`}`;
}
