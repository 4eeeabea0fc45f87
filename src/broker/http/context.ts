import type { KeyObject } from 'node:crypto';
import type { VerifyEvidenceOptions } from '../../attest/index.js';
import type { NonceStore, TokenIssuer } from '../attestation/index.js';
import type { KeyService } from '../keys/key-service.js';
import type { ReleaseSigner } from '../release/index.js';
import type { BrokerStore } from '../state/broker-store.js';
import type { StoredPrincipal } from '../state/state-model.js';
import type { BrokerMetrics } from './metrics.js';

/** Who a release trusts and who signs its answer (the release module's `ReleaseTrust` and `ReleaseSigner`). */
export interface ReleaseSetup {
  readonly issuers: readonly string[];
  readonly jwks: Readonly<Record<string, unknown>>;
  readonly signer: ReleaseSigner;
}

/** What handlers use: the state, the key operations and the attestation and release set-up. */
export interface BrokerServices {
  readonly store: BrokerStore;
  readonly keys: KeyService;
  readonly metrics: BrokerMetrics;
  /** The broker's base URL, `https://host:port`. */
  readonly vaultUrl: string;
  readonly nonces: NonceStore;
  readonly issuer: TokenIssuer;
  readonly allowSimulated: boolean;
  readonly simPublicKey?: KeyObject;
  readonly verify?: Omit<VerifyEvidenceOptions, 'nonce' | 'now'>;
  readonly release: ReleaseSetup;
  readonly now: () => Date;
}

/** Facts a handler adds to the request's audit entry. */
export interface AuditNote {
  key?: string;
  version?: string;
  reason?: string;
  details: Record<string, string | number | boolean>;
  /** Set for anonymous requests over their address's rate: answered 429, counted, not audited. */
  quiet?: boolean;
}

/** One authenticated request, as a handler sees it. */
export interface RequestContext {
  /** The authenticated principal; `undefined` only on public routes. */
  readonly principal: StoredPrincipal | undefined;
  /** Path parameters: `name`, `version`. */
  readonly params: Readonly<Record<string, string>>;
  /** The `api-version` query parameter (Key Vault routes require one). */
  readonly apiVersion: string;
  /** The body's bytes, at most the size limit. The caller wipes them. */
  bytes(): Promise<Buffer>;
  /** The body as a JSON object (`{}` when empty). */
  json(): Promise<Record<string, unknown>>;
  readonly note: AuditNote;
}

/** A handler's answer: a JSON body (or text with `contentType`) and a status, default 200. */
export interface Reply {
  readonly status?: number;
  readonly body: unknown;
  readonly contentType?: string;
}

/** Handles one route. */
export type Handler = (ctx: RequestContext, services: BrokerServices) => Promise<Reply>;
