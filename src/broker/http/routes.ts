import type { BrokerOperation } from '../auth/authorize.js';
import { getCerts, health, issueNonce, metrics, postEvidence } from './attest-handlers.js';
import type { Handler } from './context.js';
import {
  createKey,
  getKey,
  listKeys,
  listVersions,
  releaseKeyHandler,
  rotateKey,
  unwrapKey,
  updateKey,
  wrapKey,
} from './key-handlers.js';

/** A route: its template (the metrics label), the operation it needs (`public`: none) and handler. */
export interface Route {
  readonly template: string;
  readonly operation: BrokerOperation | 'public';
  /** Key Vault routes require `api-version`. */
  readonly keyVault: boolean;
  readonly handler: Handler;
}

/** A matched route and its path parameters. */
export interface RouteMatch {
  readonly route: Route;
  readonly params: Readonly<Record<string, string>>;
}

const NAME = '(?<name>[0-9A-Za-z-]{1,127})';
const VERSION = '(?<version>[0-9A-Za-z]{1,64})';

interface Entry extends Route {
  readonly method: string;
  readonly pattern: RegExp;
}

function kv(
  method: string,
  path: string,
  template: string,
  operation: BrokerOperation,
  handler: Handler,
): Entry {
  return { method, pattern: new RegExp(`^${path}$`), template, operation, keyVault: true, handler };
}

/** Specific routes first: `/keys/{name}/rotate` before `/keys/{name}/{version}`. */
const ROUTES: readonly Entry[] = [
  {
    method: 'GET',
    pattern: /^\/healthz$/,
    template: '/healthz',
    operation: 'public',
    keyVault: false,
    handler: health,
  },
  {
    method: 'GET',
    pattern: /^\/certs$/,
    template: '/certs',
    operation: 'public',
    keyVault: false,
    handler: getCerts,
  },
  {
    method: 'GET',
    pattern: /^\/metrics$/,
    template: '/metrics',
    operation: 'metrics',
    keyVault: false,
    handler: metrics,
  },
  {
    method: 'GET',
    pattern: /^\/attest\/nonce$/,
    template: '/attest/nonce',
    operation: 'attest.nonce',
    keyVault: false,
    handler: issueNonce,
  },
  {
    method: 'POST',
    pattern: /^\/attest\/evidence$/,
    template: '/attest/evidence',
    operation: 'attest.evidence',
    keyVault: false,
    handler: postEvidence,
  },
  kv('GET', '/keys/?', '/keys', 'keys.list', listKeys),
  kv('POST', `/keys/${NAME}/create`, '/keys/{name}/create', 'keys.create', createKey),
  kv('POST', `/keys/${NAME}/rotate`, '/keys/{name}/rotate', 'keys.rotate', rotateKey),
  kv('GET', `/keys/${NAME}/versions`, '/keys/{name}/versions', 'keys.list', listVersions),
  kv(
    'POST',
    `/keys/${NAME}(?:/${VERSION})?/release`,
    '/keys/{name}/{version}/release',
    'keys.release',
    releaseKeyHandler,
  ),
  kv('POST', `/keys/${NAME}/${VERSION}/wrapkey`, '/keys/{name}/{version}/wrapkey', 'keys.wrap', wrapKey),
  kv(
    'POST',
    `/keys/${NAME}/${VERSION}/unwrapkey`,
    '/keys/{name}/{version}/unwrapkey',
    'keys.unwrap',
    unwrapKey,
  ),
  kv('GET', `/keys/${NAME}(?:/${VERSION})?/?`, '/keys/{name}/{version}', 'keys.get', getKey),
  kv('PATCH', `/keys/${NAME}(?:/${VERSION})?/?`, '/keys/{name}/{version}', 'keys.update', updateKey),
];

/**
 * The route for `method` and `path`: a match, `method-not-allowed` when the path exists for
 * another method, or `undefined`.
 */
export function matchRoute(method: string, path: string): RouteMatch | 'method-not-allowed' | undefined {
  let pathMatched = false;
  for (const entry of ROUTES) {
    const m = entry.pattern.exec(path);
    if (!m) continue;
    if (entry.method !== method) {
      pathMatched = true;
      continue;
    }
    const params: Record<string, string> = {};
    for (const [k, v] of Object.entries(m.groups ?? {})) if (v !== undefined) params[k] = v;
    return { route: entry, params };
  }
  return pathMatched ? 'method-not-allowed' : undefined;
}
