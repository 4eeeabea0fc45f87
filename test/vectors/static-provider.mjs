// A minimal KeyProvider for test vectors: fixed KEKs given as bytes, RFC 3394 key wrap
// (`A256KW`). Written independently of src/kms so the vectors check the format, not our keyring.
import { createCipheriv, createDecipheriv } from 'node:crypto';

const IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex');

function fail(code, message) {
  const e = new Error(message);
  e.name = 'SealtrainError';
  e.code = code;
  return e;
}

/** keks: { 'vectors-a': { '1': Buffer(32) } } for URIs local:vectors-a. */
export function staticProvider(keks, scheme = 'local') {
  const find = (uri, version) => {
    const name = uri.slice(scheme.length + 1).split('/')[0];
    const versions = keks[name];
    if (!versions) throw fail('ERR_KMS_KEY_NOT_FOUND', `no key ${uri}`);
    const v = version ?? String(Math.max(...Object.keys(versions).map(Number)));
    const kek = versions[v];
    if (!kek) throw fail('ERR_KMS_VERSION_NOT_FOUND', `no version ${v} of ${uri}`);
    return { name, v, kek };
  };
  return {
    scheme,
    async wrap(uri, dek) {
      const [base, version] = uri.split('/');
      const { v, kek } = find(base, version);
      const c = createCipheriv('id-aes256-wrap', kek, IV);
      return { uri: base, version: v, alg: 'A256KW', wrapped: Buffer.concat([c.update(dek), c.final()]) };
    },
    async unwrap(w) {
      const { kek } = find(w.uri, w.version);
      try {
        const d = createDecipheriv('id-aes256-wrap', kek, IV);
        return Buffer.concat([d.update(w.wrapped), d.final()]);
      } catch {
        throw fail('ERR_KMS_UNWRAP_FAILED', `cannot unwrap with ${w.uri}/${w.version}`);
      }
    },
    async create() {
      throw new Error('not supported');
    },
    async rotate() {
      throw new Error('not supported');
    },
    async listVersions() {
      return [];
    },
    async list() {
      return [];
    },
    async disableVersion() {
      throw new Error('not supported');
    },
  };
}

/** Deterministic bytes for reproducible vectors: SHA-256 in counter mode over a seed. */
export function seededRandom(seed) {
  let counter = 0;
  return (size) => {
    const out = [];
    let have = 0;
    while (have < size) {
      const h = createHashSync(`${seed}:${counter++}`);
      out.push(h);
      have += h.length;
    }
    return Buffer.concat(out).subarray(0, size);
  };
}

import { createHash } from 'node:crypto';

function createHashSync(s) {
  return createHash('sha256').update(s).digest();
}
