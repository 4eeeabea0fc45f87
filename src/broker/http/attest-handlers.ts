import { isSealtrainError } from '../../errors/index.js';
import { attestEvidence } from '../attestation/index.js';
import type { Handler } from './context.js';

/** `GET /attest/nonce`: a single-use, short-lived challenge. */
export const issueNonce: Handler = async (ctx, s) => ({
  body: { nonce: s.nonces.issue(ctx.principal?.name) },
});

/** The evidence kind named in an envelope, for metrics only; `unknown` when it does not say. */
function kindOf(bytes: Buffer): string {
  try {
    const kind = (JSON.parse(bytes.toString('utf8')) as { kind?: unknown }).kind;
    return typeof kind === 'string' && /^[a-z0-9-]{1,32}$/.test(kind) ? kind : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** `POST /attest/evidence`: evidence bound to an issued nonce → a signed attestation token. */
export const postEvidence: Handler = async (ctx, s) => {
  const bytes = await ctx.bytes();
  const type = kindOf(bytes);
  ctx.note.details.type = type;
  try {
    const { token, verdict } = await attestEvidence(bytes, {
      nonces: s.nonces,
      issuer: s.issuer,
      allowSimulated: s.allowSimulated,
      ...(s.simPublicKey ? { simPublicKey: s.simPublicKey } : {}),
      ...(s.verify ? { verify: s.verify } : {}),
      now: s.now(),
    });
    s.metrics.attestations.inc({ type: verdict.kind, result: 'ok' });
    ctx.note.details.type = verdict.kind;
    return { body: { token } };
  } catch (error) {
    s.metrics.attestations.inc({ type, result: isSealtrainError(error) ? error.code : 'ERR_INTERNAL' });
    throw error;
  } finally {
    bytes.fill(0);
  }
};

/** `GET /certs`: the JWKS that verifies the broker's attestation tokens and release answers. */
export const getCerts: Handler = async (_ctx, s) => ({ body: s.issuer.jwks() });

/** `GET /healthz`. */
export const health: Handler = async () => ({ body: { status: 'ok' } });

/** `GET /metrics`: Prometheus text. */
export const metrics: Handler = async (_ctx, s) => ({
  body: await s.metrics.registry.metrics(),
  contentType: s.metrics.registry.contentType,
});
