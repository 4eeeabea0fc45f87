import { SealtrainError } from '../../errors/index.js';
import { assertKeyName, assertKeyVersion } from '../local-uri.js';

/** The URI scheme of the PKCS#11 provider, without the colon. */
export const PKCS11_SCHEME = 'pkcs11';

/** A parsed `pkcs11:` key URI. */
export interface Pkcs11KeyRef {
  /** The token label (`token=`). */
  readonly token: string;
  /** The key name: the object label without its `#<version>` suffix. */
  readonly name: string;
  /** The version when the object label carries one (`object=alice%232`). */
  readonly version?: string;
}

/** Path attributes RFC 7512 defines that identify a token or library; accepted and ignored. */
const IGNORED = new Set([
  'manufacturer',
  'model',
  'serial',
  'library-manufacturer',
  'library-description',
  'library-version',
  'slot-description',
  'slot-manufacturer',
  'slot-id',
]);

function badUri(uri: string, problem: string): SealtrainError {
  return new SealtrainError(
    'ERR_KMS_BAD_URI',
    `Key URI ${JSON.stringify(uri)} ${problem}; use pkcs11:token=<token label>;object=<key name> (add %23<version> to the object for one version).`,
    { details: { uri } },
  );
}

function decode(uri: string, value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw badUri(uri, 'has a malformed percent-encoding');
  }
}

/** Percent-encodes an attribute value: everything outside RFC 3986 unreserved characters. */
function encode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** The object label of `version` of key `name`: `<name>#<version>`. */
export function objectLabel(name: string, version: string): string {
  return `${name}#${version}`;
}

/** Splits an object label `<name>#<version>` into its parts; undefined for labels of other objects. */
export function splitLabel(label: string): { name: string; version: string } | undefined {
  const hash = label.lastIndexOf('#');
  if (hash <= 0) return undefined;
  const name = label.slice(0, hash);
  const version = label.slice(hash + 1);
  if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(name) || !/^[1-9][0-9]{0,8}$/.test(version)) return undefined;
  return { name, version };
}

/** The unversioned URI of key `name` on token `token`. */
export function pkcs11Uri(token: string, name: string): string {
  return `${PKCS11_SCHEME}:token=${encode(token)};object=${encode(name)}`;
}

function tokenAttributes(uri: string): { token: string; attrs: Map<string, string> } {
  const prefix = `${PKCS11_SCHEME}:`;
  if (!uri.startsWith(prefix)) throw badUri(uri, 'is not a pkcs11: URI');
  const rest = uri.slice(prefix.length);
  if (rest.includes('?') || rest.includes('#')) {
    throw badUri(uri, 'has a query or fragment; the PIN and module come from options, never the URI');
  }
  const attrs = pathAttributes(uri, rest);
  const token = attrs.get('token');
  if (token === undefined || token === '') throw badUri(uri, 'has no token attribute');
  return { token, attrs };
}

/** The token label of a `pkcs11:` URI that may name no object (`pkcs11:token=hsm`). */
export function pkcs11TokenOf(uri: string): string {
  const { token, attrs } = tokenAttributes(uri);
  for (const key of attrs.keys()) {
    if (key !== 'token' && key !== 'object' && key !== 'type' && !IGNORED.has(key)) {
      throw badUri(uri, `has the unsupported attribute ${key}`);
    }
  }
  return token;
}

/** Reads the `attr=value` pairs of a URI's path; `ERR_KMS_BAD_URI` for repeats or empty names. */
function pathAttributes(uri: string, path: string): Map<string, string> {
  const attrs = new Map<string, string>();
  for (const part of path.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw badUri(uri, `has a malformed attribute ${JSON.stringify(part)}`);
    const key = part.slice(0, eq);
    if (attrs.has(key)) throw badUri(uri, `repeats the attribute ${key}`);
    attrs.set(key, decode(uri, part.slice(eq + 1)));
  }
  return attrs;
}

/**
 * Parses an RFC 7512 URI naming a secret key: `pkcs11:token=<label>;object=<name>` or, for one
 * version, `object=<name>%23<version>`. `type=secret-key` and token-identifying attributes are
 * accepted; a query (`?pin-value=…`, `?module-path=…`) and any other attribute are refused with
 * `ERR_KMS_BAD_URI`: the PIN and the module come from the provider's options only.
 */
export function parsePkcs11Uri(uri: string): Pkcs11KeyRef {
  const { token, attrs } = tokenAttributes(uri);
  const object = attrs.get('object');
  if (object === undefined) throw badUri(uri, 'has no object attribute');
  const type = attrs.get('type');
  if (type !== undefined && type !== 'secret-key') throw badUri(uri, `names type ${type}, not secret-key`);
  for (const key of attrs.keys()) {
    if (key !== 'token' && key !== 'object' && key !== 'type' && !IGNORED.has(key)) {
      throw badUri(uri, `has the unsupported attribute ${key}`);
    }
  }
  const hash = object.lastIndexOf('#');
  const name = hash === -1 ? object : object.slice(0, hash);
  assertKeyName(name);
  if (hash === -1) return { token, name };
  const version = object.slice(hash + 1);
  assertKeyVersion(version);
  return { token, name, version };
}
