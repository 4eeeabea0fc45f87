import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditSink } from '../../audit/index.js';
import { isSealtrainError, SealtrainError } from '../../errors/index.js';
import { authorize } from '../auth/authorize.js';
import { authenticate } from '../auth/principals.js';
import type { RateLimiter } from '../auth/rate-limiter.js';
import { errorBody, httpErrorFor } from '../http-status.js';
import type { StoredPrincipal } from '../state/state-model.js';
import type { AuditNote, BrokerServices, Reply, RequestContext } from './context.js';
import { parseJsonBody, readBody } from './request-body.js';
import { matchRoute, type RouteMatch } from './routes.js';

/** Key Vault API versions the broker answers. */
export const API_VERSIONS = ['7.4', '7.5', '7.6', '2025-07-01'] as const;

/** What the request handler needs besides the services. */
export interface HandlerSetup {
  readonly services: BrokerServices;
  readonly audit: AuditSink;
  readonly limiter: RateLimiter;
  readonly maxBodyBytes: number;
  /** The `WWW-Authenticate` value sent with every 401. */
  readonly challenge: string;
  /** Where internal errors are reported for the operator (never key material: messages only). */
  readonly log?: (line: string) => void;
}

/** Everything the finished request is audited and measured by. */
interface Outcome {
  template: string;
  operation: string;
  principal?: StoredPrincipal;
  reply?: Reply;
  error?: unknown;
  bodyRead: boolean;
}

function requestError(reason: string, message: string): SealtrainError {
  return new SealtrainError('ERR_BROKER_REQUEST', message, { details: { reason } });
}

function bearer(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  const m = header === undefined ? null : /^Bearer +(\S+)$/i.exec(header);
  return m?.[1];
}

function apiVersionOf(url: URL): string {
  const v = url.searchParams.get('api-version');
  if (v === null) throw requestError('bad-api-version', 'The query parameter "api-version" is missing.');
  if (!(API_VERSIONS as readonly string[]).includes(v))
    throw requestError('bad-api-version', `The api-version "${v}" is not one of ${API_VERSIONS.join(', ')}.`);
  return v;
}

function contextFor(
  req: IncomingMessage,
  match: RouteMatch,
  principal: StoredPrincipal | undefined,
  extra: {
    apiVersion: string;
    note: AuditNote;
    setup: HandlerSetup;
    outcome: Outcome;
  },
): RequestContext {
  let body: Promise<Buffer> | undefined;
  const bytes = () => {
    extra.outcome.bodyRead = true;
    body ??= readBody(req, extra.setup.maxBodyBytes);
    return body.then((b) => Buffer.from(b));
  };
  return {
    principal,
    params: match.params,
    apiVersion: extra.apiVersion,
    note: extra.note,
    bytes,
    json: async () => {
      const b = await bytes();
      try {
        return parseJsonBody(b);
      } finally {
        b.fill(0);
      }
    },
  };
}

/** Authenticates, limits, authorises and runs the route; the reply or the error lands in `outcome`. */
async function run(
  req: IncomingMessage,
  url: URL,
  setup: HandlerSetup,
  outcome: Outcome,
  note: AuditNote,
): Promise<void> {
  const match = matchRoute(req.method ?? 'GET', url.pathname);
  if (match !== undefined && match !== 'method-not-allowed') {
    outcome.template = match.route.template;
    outcome.operation = match.route.operation;
    if (match.route.operation === 'public') {
      outcome.reply = await match.route.handler(
        contextFor(req, match, undefined, { apiVersion: '', note, setup, outcome }),
        setup.services,
      );
      return;
    }
  }
  const { services } = setup;
  let principal: StoredPrincipal;
  try {
    principal = authenticate(
      await services.store.read(),
      bearer(req),
      Math.floor(services.now().getTime() / 1000),
    );
  } catch (error) {
    // Failed authentication is rate-limited per address, and beyond the limit not audited, so
    // anyone who can reach the port cannot flood the audit log with 401s.
    const rate = setup.limiter.take(`address:${req.socket.remoteAddress ?? 'unknown'}`);
    if (rate.ok) throw error;
    note.quiet = true;
    throw new SealtrainError(
      'ERR_BROKER_REQUEST',
      `Too many unauthenticated requests; retry after ${rate.retryAfterSeconds} s.`,
      {
        details: { reason: 'rate-limited', retryAfter: rate.retryAfterSeconds },
      },
    );
  }
  outcome.principal = principal;
  const rate = setup.limiter.take(principal.name);
  if (!rate.ok) {
    throw new SealtrainError(
      'ERR_BROKER_REQUEST',
      `Principal "${principal.name}" sends requests too fast; retry after ${rate.retryAfterSeconds} s.`,
      {
        details: { reason: 'rate-limited', retryAfter: rate.retryAfterSeconds },
      },
    );
  }
  if (match === undefined) throw requestError('not-found', `There is no route ${url.pathname}.`);
  if (match === 'method-not-allowed')
    throw requestError('method-not-allowed', `${req.method} is not allowed on ${url.pathname}.`);
  const apiVersion = match.route.keyVault ? apiVersionOf(url) : '';
  if (match.route.operation !== 'public') authorize(principal, match.route.operation);
  outcome.reply = await match.route.handler(
    contextFor(req, match, principal, { apiVersion, note, setup, outcome }),
    services,
  );
}

function send(res: ServerResponse, status: number, reply: Reply, headers: Record<string, string>): void {
  const text = typeof reply.body === 'string' && reply.contentType ? reply.body : JSON.stringify(reply.body);
  res.writeHead(status, {
    'content-type': reply.contentType ?? 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

function errorHeaders(
  error: unknown,
  status: number,
  setup: HandlerSetup,
  outcome: Outcome,
  req: IncomingMessage,
) {
  const headers: Record<string, string> = {};
  if (status === 401) headers['www-authenticate'] = setup.challenge;
  if (status === 429 && isSealtrainError(error))
    headers['retry-after'] = String(error.details.retryAfter ?? 1);
  const hasBody = req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0';
  if (!outcome.bodyRead && (hasBody || req.headers['transfer-encoding'] !== undefined))
    headers.connection = 'close';
  return headers;
}

/** Audits a non-public request; resolves once the entry is stored. */
function auditOf(setup: HandlerSetup, outcome: Outcome, note: AuditNote, status: number) {
  const error = outcome.error;
  const code = error === undefined ? undefined : isSealtrainError(error) ? error.code : 'ERR_INTERNAL';
  const reason = note.reason ?? reasonOf(error);
  return setup.audit.record({
    actor: outcome.principal?.name ?? 'anonymous',
    action: `broker.${outcome.operation}`,
    outcome: error === undefined ? 'ok' : 'error',
    ...(note.key
      ? { key: { uri: `broker:${note.key}`, ...(note.version ? { version: note.version } : {}) } }
      : {}),
    ...(code ? { code } : {}),
    details: { ...note.details, status, route: outcome.template, ...(reason ? { reason } : {}) },
  });
}

/**
 * Handles one request: route, bearer authentication (401 with Key Vault's challenge), rate limit
 * (429 with Retry-After), api-version, authorisation (403), the handler; then audits the decision
 * and only then answers, so nothing leaves the broker unaudited. Statuses come from `http-status.ts`.
 */
export async function handleRequest(
  req: IncomingMessage,
  res: ServerResponse,
  setup: HandlerSetup,
): Promise<void> {
  const started = process.hrtime.bigint();
  const outcome: Outcome = { template: 'unmatched', operation: 'unknown', bodyRead: false };
  const note: AuditNote = { details: {} };
  try {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'https://broker.invalid');
    } catch (cause) {
      throw new SealtrainError('ERR_BROKER_REQUEST', 'The request target is not a valid URL path.', {
        cause,
        details: { reason: 'bad-parameter' },
      });
    }
    await run(req, url, setup, outcome, note);
  } catch (error) {
    outcome.error = error;
  }
  let failure = outcome.error === undefined ? undefined : httpErrorFor(outcome.error);
  if (failure?.status === 500 && !isSealtrainError(outcome.error))
    setup.log?.(
      `sealtrain broker: internal error on ${outcome.template}: ${(outcome.error as Error)?.message ?? outcome.error}`,
    );
  if (outcome.operation !== 'public' && !note.quiet) {
    try {
      await auditOf(setup, outcome, note, failure?.status ?? outcome.reply?.status ?? 200);
    } catch (error) {
      outcome.error = error;
      failure = {
        status: 500,
        kvCode: 'InternalError',
        message: 'The broker could not write its audit log; nothing was done.',
      };
    }
  }
  recordMetrics(
    setup,
    outcome,
    failure?.status ?? outcome.reply?.status ?? 200,
    started,
    req.method ?? 'GET',
  );
  if (failure) {
    send(
      res,
      failure.status,
      { body: errorBody(failure) },
      errorHeaders(outcome.error, failure.status, setup, outcome, req),
    );
  } else if (outcome.reply) {
    send(res, outcome.reply.status ?? 200, outcome.reply, {});
  }
}

function recordMetrics(
  setup: HandlerSetup,
  outcome: Outcome,
  status: number,
  started: bigint,
  method: string,
): void {
  const { metrics } = setup.services;
  metrics.requests.inc({ route: outcome.template, method, status: String(status) });
  metrics.latency.observe({ route: outcome.template }, Number(process.hrtime.bigint() - started) / 1e9);
  if (outcome.operation === 'keys.release') {
    const error = outcome.error;
    if (error === undefined) metrics.releases.inc({ outcome: 'allowed', reason: 'ok' });
    else metrics.releases.inc({ outcome: 'denied', reason: releaseReason(error) });
  }
}

/** The first failed check of a denied release (`policy.condition`, `maa.exp`, …), else the error code. */
function releaseReason(error: unknown): string {
  if (!isSealtrainError(error)) return 'ERR_INTERNAL';
  const failures = error.details.failures;
  if (Array.isArray(failures) && typeof failures[0] === 'string') return failures[0];
  const reason = error.details.reason;
  return typeof reason === 'string' ? reason : error.code;
}

/** Why a request failed, for the audit entry: `details.reason`, else the failed check ids. */
function reasonOf(error: unknown): string {
  if (!isSealtrainError(error)) return '';
  const { reason, failures } = error.details;
  if (typeof reason === 'string') return reason;
  return Array.isArray(failures) ? failures.join(',') : '';
}
