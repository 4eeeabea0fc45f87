import { SealtrainError } from '../../errors/index.js';
import type { ReleasePolicy } from '../../policy/index.js';
import { unwrapWith, wrapWith } from '../keys/key-material.js';
import { assertUsable } from '../keys/key-service.js';
import {
  keyBundle,
  keyItem,
  kidOf,
  parseCreateBody,
  parseOperationBody,
  parseReleaseBody,
  parseUpdateBody,
} from '../keys/kv-wire.js';
import { isReleaseEncryption, releaseKey } from '../release/index.js';
import type { StoredKeyVersion } from '../state/state-model.js';
import type { Handler, RequestContext } from './context.js';

function noted(ctx: RequestContext, v: StoredKeyVersion): StoredKeyVersion {
  ctx.note.version = v.version;
  return v;
}

function nameOf(ctx: RequestContext): string {
  const name = ctx.params.name ?? '';
  ctx.note.key = name;
  return name;
}

/** `POST /keys/{name}/create`. */
export const createKey: Handler = async (ctx, s) => {
  const name = nameOf(ctx);
  const v = noted(ctx, await s.keys.create(name, parseCreateBody(await ctx.json())));
  ctx.note.details.kty = v.kty;
  return { body: keyBundle(s.vaultUrl, name, v) };
};

/** `POST /keys/{name}/rotate`. */
export const rotateKey: Handler = async (ctx, s) => {
  const name = nameOf(ctx);
  return { body: keyBundle(s.vaultUrl, name, noted(ctx, await s.keys.rotate(name))) };
};

/** `GET /keys/{name}/{version?}`: public members only. */
export const getKey: Handler = async (ctx, s) => {
  const name = nameOf(ctx);
  return { body: keyBundle(s.vaultUrl, name, noted(ctx, await s.keys.get(name, ctx.params.version))) };
};

/** `GET /keys/{name}/versions`. */
export const listVersions: Handler = async (ctx, s) => {
  const name = nameOf(ctx);
  const versions = await s.keys.versions(name);
  return { body: { value: versions.map((v) => keyItem(s.vaultUrl, name, v)), nextLink: null } };
};

/** `GET /keys`. */
export const listKeys: Handler = async (_ctx, s) => {
  const keys = await s.keys.list();
  return { body: { value: keys.map((k) => keyItem(s.vaultUrl, k.name, k.latest, false)), nextLink: null } };
};

/** `PATCH /keys/{name}/{version?}`. */
export const updateKey: Handler = async (ctx, s) => {
  const name = nameOf(ctx);
  const change = parseUpdateBody(await ctx.json());
  if (change.releasePolicy) ctx.note.details.policyChanged = true;
  const v = noted(ctx, await s.keys.update(name, ctx.params.version, change));
  return { body: keyBundle(s.vaultUrl, name, v) };
};

function cryptoHandler(op: 'wrapKey' | 'unwrapKey'): Handler {
  return async (ctx, s) => {
    const name = nameOf(ctx);
    const { alg, value } = parseOperationBody(await ctx.json());
    ctx.note.details.alg = alg;
    try {
      const v = noted(ctx, await s.keys.get(name, ctx.params.version));
      assertUsable(name, v, op);
      const out = op === 'wrapKey' ? wrapWith(v, alg, value) : unwrapWith(v, alg, value);
      const body = { kid: kidOf(s.vaultUrl, name, v.version), value: out.toString('base64url') };
      out.fill(0);
      return { body };
    } finally {
      value.fill(0);
    }
  };
}

/** `POST /keys/{name}/{version}/wrapkey`. */
export const wrapKey = cryptoHandler('wrapKey');
/** `POST /keys/{name}/{version}/unwrapkey`. */
export const unwrapKey = cryptoHandler('unwrapKey');

function denied(reason: string, message: string): SealtrainError {
  return new SealtrainError('ERR_RELEASE_DENIED', message, { details: { reason, failures: [reason] } });
}

/** The release preconditions the broker checks before the release module: enabled, exportable, a policy. */
function releasable(name: string, v: StoredKeyVersion): ReleasePolicy {
  assertUsable(name, v);
  if (!v.exportable)
    throw denied('release.not-exportable', `Key "${name}" version ${v.version} is not exportable.`);
  if (v.releasePolicy === undefined)
    throw denied('release.no-policy', `Key "${name}" version ${v.version} has no release policy.`);
  return v.releasePolicy as ReleasePolicy;
}

/** `POST /keys/{name}/{version?}/release`: Secure Key Release to the token's runtime key. */
export const releaseKeyHandler: Handler = async (ctx, s) => {
  const name = nameOf(ctx);
  const request = parseReleaseBody(await ctx.json());
  if (request.enc !== undefined && !isReleaseEncryption(request.enc)) {
    throw new SealtrainError(
      'ERR_BROKER_REQUEST',
      `Field "enc" is "${request.enc}", not a supported key-release wrapping.`,
      {
        details: { field: 'enc', reason: 'bad-parameter' },
      },
    );
  }
  const v = noted(ctx, await s.keys.get(name, ctx.params.version));
  const policy = releasable(name, v);
  const material = Buffer.from(v.material, 'base64');
  try {
    const result = await releaseKey({
      key: { kid: kidOf(s.vaultUrl, name, v.version), kty: v.kty, material, keyOps: v.keyOps },
      policy,
      target: request.target,
      trusted: { issuers: s.release.issuers, jwks: s.release.jwks },
      allowSimulated: s.allowSimulated,
      signer: s.release.signer,
      ...(request.enc === undefined ? {} : { enc: request.enc }),
      ...(request.nonce === undefined ? {} : { nonce: request.nonce }),
      requestKid: `${s.vaultUrl}/keys/${name}${ctx.params.version ? `/${ctx.params.version}` : ''}`,
      apiVersion: ctx.apiVersion,
      keyBundle: keyBundle(s.vaultUrl, name, v),
      now: s.now(),
    });
    ctx.note.details.attestationType = result.decision.attestationType;
    ctx.note.details.issuer = result.decision.issuer;
    ctx.note.details.matchedRule = result.decision.matchedRule;
    ctx.note.details.runtimeKid = result.decision.runtimeKid;
    return { body: { value: result.value } };
  } finally {
    material.fill(0);
  }
};
