import { SealtrainError } from '../errors/index.js';
import { conditionList } from './internal/conditions.js';
import { at, isObject, LIMITS, type Problem, typeName, unknownFields, Walk } from './internal/walk.js';
import { type AuthorityRule, POLICY_VERSION, type ReleasePolicy } from './release-policy.js';

export { LIMITS as POLICY_LIMITS } from './internal/walk.js';

/** A parsed policy and what was accepted but worth saying. */
export interface ValidatedReleasePolicy {
  /** The policy, normalised: only known fields, `version` always present. */
  readonly policy: ReleasePolicy;
  /** Accepted deviations, e.g. a missing `version`; empty for a policy exactly in the grammar. */
  readonly warnings: readonly string[];
}

/** Checks an authority: an absolute `https:` URL without credentials, query or fragment. */
function checkAuthority(walk: Walk, path: string, value: unknown): value is string {
  if (typeof value !== 'string') {
    walk.add(path, `must be the attestation service's URL (a string), not ${typeName(value)}`);
    return false;
  }
  if (value.length > LIMITS.authority) {
    walk.add(path, `is ${value.length} characters, over the limit of ${LIMITS.authority}`);
    return false;
  }
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {}
  const clean = url && url.search === '' && url.hash === '' && url.username === '' && url.password === '';
  if (url?.protocol !== 'https:' || !clean) {
    walk.add(path, `"${value}" is not an https:// URL without credentials, query or fragment`);
    return false;
  }
  return true;
}

function rule(walk: Walk, path: string, value: unknown): AuthorityRule | undefined {
  if (!isObject(value)) {
    walk.add(path, `must be an object with authority and allOf or anyOf, not ${typeName(value)}`);
    return undefined;
  }
  const groups = ['allOf', 'anyOf'].filter((k) => Object.hasOwn(value, k));
  unknownFields(walk, path, value, ['authority', ...groups]);
  if (!Object.hasOwn(value, 'authority')) walk.add(at(path, 'authority'), 'is missing');
  const authorityOk =
    Object.hasOwn(value, 'authority') && checkAuthority(walk, at(path, 'authority'), value.authority);
  const [kind, other] = groups;
  if (kind === undefined || other !== undefined) {
    walk.add(path, kind === undefined ? 'needs allOf or anyOf' : 'has both allOf and anyOf; use one');
    return undefined;
  }
  const list = conditionList(walk, at(path, kind), value[kind], 1);
  if (list === undefined || !authorityOk) return undefined;
  return { authority: value.authority as string, [kind]: list } as unknown as AuthorityRule;
}

function rules(walk: Walk, value: unknown): AuthorityRule[] | undefined {
  if (!Array.isArray(value)) {
    walk.add('anyOf', `must be an array of authority rules, not ${typeName(value)}`);
    return undefined;
  }
  if (value.length === 0 || value.length > LIMITS.rules) {
    walk.add('anyOf', `must list 1 to ${LIMITS.rules} authority rules, not ${value.length}`);
    return undefined;
  }
  const out: AuthorityRule[] = [];
  value.forEach((item, i) => {
    if (walk.full) return;
    const parsed = rule(walk, `anyOf[${i}]`, item);
    if (parsed !== undefined) out.push(parsed);
  });
  return out.length === value.length ? out : undefined;
}

function decode(value: unknown, source: string): unknown {
  if (typeof value !== 'string' && !(value instanceof Uint8Array)) return value;
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
  if (bytes.length > LIMITS.bytes)
    throw invalid(source, [
      { path: '(top level)', message: `is ${bytes.length} bytes, over the limit of ${LIMITS.bytes}` },
    ]);
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (cause) {
    throw new SealtrainError('ERR_POLICY_INVALID', `Release policy ${source} is not JSON.`, {
      cause,
      details: { source },
    });
  }
}

function invalid(source: string, problems: readonly Problem[]): SealtrainError {
  const list = problems.map((p) => `${p.path}: ${p.message}`);
  return new SealtrainError(
    'ERR_POLICY_INVALID',
    `Release policy ${source} is invalid: ${list.join('; ')}.`,
    {
      details: { source, path: problems[0]?.path ?? '(top level)', problems: list },
    },
  );
}

/**
 * Validates a release policy in Azure Key Vault's grammar (`docs/policy.md`) and returns it with
 * warnings. `value` is the parsed JSON, or its text or bytes (at most 64 KiB). A policy without
 * `version` is accepted as 1.0.0 with a warning, as Key Vault's own examples omit it. Anything else
 * outside the grammar fails with `ERR_POLICY_INVALID`, naming every offending JSON path (such as
 * `anyOf[0].allOf[1].equals`) in the message and in `details.problems`.
 */
export function validateReleasePolicy(value: unknown, source = 'policy'): ValidatedReleasePolicy {
  const json = decode(value, source);
  const walk = new Walk();
  const warnings: string[] = [];
  if (!isObject(json))
    throw invalid(source, [{ path: '(top level)', message: `must be an object, not ${typeName(json)}` }]);
  unknownFields(walk, '', json, ['version', 'anyOf']);
  if (!Object.hasOwn(json, 'version'))
    warnings.push(`Release policy ${source} has no version; it is read as version ${POLICY_VERSION}.`);
  else if (json.version !== POLICY_VERSION)
    walk.add('version', `must be "${POLICY_VERSION}", not ${JSON.stringify(json.version)}`);
  if (!Object.hasOwn(json, 'anyOf')) walk.add('anyOf', 'is missing: a policy is an anyOf of authority rules');
  const parsed = Object.hasOwn(json, 'anyOf') ? rules(walk, json.anyOf) : undefined;
  if (walk.problems.length > 0 || parsed === undefined) throw invalid(source, walk.problems);
  return { policy: { version: POLICY_VERSION, anyOf: parsed }, warnings };
}

/**
 * Parses a release policy in Azure Key Vault's grammar; see {@link validateReleasePolicy}, which
 * also returns warnings (such as a missing `version`). Throws `ERR_POLICY_INVALID` naming the path.
 */
export function parseReleasePolicy(value: unknown, source = 'policy'): ReleasePolicy {
  return validateReleasePolicy(value, source).policy;
}
