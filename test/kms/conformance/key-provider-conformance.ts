// One suite every KeyProvider passes: round trips, versions, rotation, disabled versions,
// wrong-key and tampered-bytes errors, unknown keys, and concurrent use.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSealtrainError } from '../../../src/errors/index.js';
import type { KeyProvider, WrappedKey } from '../../../src/kms/index.js';

/** What a provider under test brings: the provider, its URI for a key name, and a cleanup. */
export interface ConformanceSubject {
  readonly provider: KeyProvider;
  /** The unversioned URI of key `name`. */
  uriOf(name: string): string;
  cleanup(): Promise<void>;
}

/** Where a provider legitimately differs from the others. */
export interface ConformanceCapabilities {
  /** The versioned URI of `version` of key `name`, when the provider has one. */
  readonly versionedUriOf?: (name: string, version: string) => string;
  /** The wrapping algorithm every WrappedKey carries; any non-empty string when absent. */
  readonly alg?: string;
}

/** The error code of a rejected promise, or a description of what happened instead. */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return isSealtrainError(error) ? error.code : `not a coded error: ${String(error)}`;
  }
  return 'no error: the call succeeded';
}

let counter = 0;
/** A key name no other test uses. */
function fresh(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}`;
}

/**
 * Registers the conformance suite for the provider `name` makes. `makeProvider` runs once for the
 * suite; every test uses keys of its own.
 */
export function describeKeyProviderConformance(
  name: string,
  makeProvider: () => Promise<ConformanceSubject>,
  capabilities: ConformanceCapabilities = {},
): void {
  const alg = capabilities.alg ?? expect.stringMatching(/./);
  describe(`KeyProvider conformance: ${name}`, () => {
    let subject: ConformanceSubject;
    const kp = () => subject.provider;
    beforeAll(async () => {
      subject = await makeProvider();
    });
    afterAll(async () => {
      await subject?.cleanup();
    });

    it('wraps and unwraps a data key, and the wrapped form names the key, version and algorithm', async () => {
      const key = fresh('round');
      const v1 = await kp().create(key);
      expect(v1).toMatchObject({ uri: subject.uriOf(key), name: key, enabled: true });
      expect(Number.isNaN(Date.parse(v1.created))).toBe(false);
      const dek = randomBytes(32);
      const w = await kp().wrap(subject.uriOf(key), dek);
      expect(w).toMatchObject({ uri: subject.uriOf(key), version: v1.version, alg });
      expect(Buffer.from(w.wrapped).includes(dek)).toBe(false);
      expect(Buffer.from(await kp().unwrap(w))).toEqual(dek);
      expect(await codeOf(kp().create(key))).toBe('ERR_KMS_KEY_EXISTS');
    });

    it('rotates: new wraps use the new version, old versions keep unwrapping, lists show both', async () => {
      const key = fresh('rotate');
      const v1 = await kp().create(key);
      const dek = randomBytes(32);
      const w1 = await kp().wrap(subject.uriOf(key), dek);
      const v2 = await kp().rotate(key);
      expect(v2.version).not.toBe(v1.version);
      const w2 = await kp().wrap(subject.uriOf(key), dek);
      expect(w2.version).toBe(v2.version);
      expect(Buffer.from(await kp().unwrap(w1))).toEqual(dek);
      expect(Buffer.from(await kp().unwrap(w2))).toEqual(dek);
      const versions = (await kp().listVersions(key)).map((v) => v.version);
      expect([...versions].sort()).toEqual([v1.version, v2.version].sort());
      const listed = (await kp().list()).filter((k) => k.name === key);
      expect(listed.map((k) => k.version)).toEqual([v2.version]);
    });

    if (capabilities.versionedUriOf) {
      const versioned = capabilities.versionedUriOf;
      it('wraps under a named version when the URI carries one', async () => {
        const key = fresh('pinned');
        const v1 = await kp().create(key);
        await kp().rotate(key);
        const w = await kp().wrap(versioned(key, v1.version), randomBytes(32));
        expect(w).toMatchObject({ uri: subject.uriOf(key), version: v1.version });
        expect(await codeOf(kp().wrap(versioned(key, '99'), randomBytes(32)))).toBe(
          'ERR_KMS_VERSION_NOT_FOUND',
        );
      });
    }

    it('refuses a disabled version for wrap and unwrap, and keeps other versions working', async () => {
      const key = fresh('disable');
      const v1 = await kp().create(key);
      const dek = randomBytes(32);
      const w1 = await kp().wrap(subject.uriOf(key), dek);
      const v2 = await kp().rotate(key);
      const w2 = await kp().wrap(subject.uriOf(key), dek);
      const disabled = await kp().disableVersion(key, v1.version);
      expect(disabled).toMatchObject({ version: v1.version, enabled: false });
      expect(await codeOf(kp().unwrap(w1))).toBe('ERR_KMS_KEY_DISABLED');
      expect(Buffer.from(await kp().unwrap(w2))).toEqual(dek);
      const listed = await kp().listVersions(key);
      expect(listed.find((v) => v.version === v1.version)?.enabled).toBe(false);
      expect(listed.find((v) => v.version === v2.version)?.enabled).toBe(true);
      await kp().disableVersion(key, v2.version);
      expect(await codeOf(kp().wrap(subject.uriOf(key), dek))).toBe('ERR_KMS_KEY_DISABLED');
      expect(await codeOf(kp().unwrap(w2))).toBe('ERR_KMS_KEY_DISABLED');
    });

    it('fails with ERR_KMS_UNWRAP_FAILED for another key, tampered, truncated or empty bytes', async () => {
      const a = fresh('wrong-a');
      const b = fresh('wrong-b');
      await kp().create(a);
      const vb = await kp().create(b);
      const w = await kp().wrap(subject.uriOf(a), randomBytes(32));
      const other: WrappedKey = { ...w, uri: subject.uriOf(b), version: vb.version };
      expect(await codeOf(kp().unwrap(other))).toBe('ERR_KMS_UNWRAP_FAILED');
      const flipped = Buffer.from(w.wrapped);
      flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 1;
      expect(await codeOf(kp().unwrap({ ...w, wrapped: flipped }))).toBe('ERR_KMS_UNWRAP_FAILED');
      const early = Buffer.from(w.wrapped).fill(1, 0, 8);
      expect(await codeOf(kp().unwrap({ ...w, wrapped: early }))).toBe('ERR_KMS_UNWRAP_FAILED');
      expect(await codeOf(kp().unwrap({ ...w, wrapped: w.wrapped.subarray(0, 8) }))).toBe(
        'ERR_KMS_UNWRAP_FAILED',
      );
      expect(await codeOf(kp().unwrap({ ...w, wrapped: new Uint8Array(0) }))).toBe('ERR_KMS_UNWRAP_FAILED');
    });

    it('names unknown keys with ERR_KMS_KEY_NOT_FOUND', async () => {
      const missing = fresh('missing');
      expect(await codeOf(kp().wrap(subject.uriOf(missing), randomBytes(32)))).toBe('ERR_KMS_KEY_NOT_FOUND');
      expect(await codeOf(kp().listVersions(missing))).toBe('ERR_KMS_KEY_NOT_FOUND');
      expect(await codeOf(kp().rotate(missing))).toBe('ERR_KMS_KEY_NOT_FOUND');
      const w: WrappedKey = {
        uri: subject.uriOf(missing),
        version: '1',
        alg: capabilities.alg ?? 'A256KW',
        wrapped: randomBytes(40),
      };
      expect(await codeOf(kp().unwrap(w))).toBe('ERR_KMS_KEY_NOT_FOUND');
    });

    it('serves 20 parallel wraps and unwraps, each getting its own data key back', async () => {
      const key = fresh('parallel');
      await kp().create(key);
      const deks = Array.from({ length: 20 }, () => randomBytes(32));
      const wrapped = await Promise.all(deks.map((d) => kp().wrap(subject.uriOf(key), d)));
      const back = await Promise.all(wrapped.map((w) => kp().unwrap(w)));
      expect(back.map((d) => Buffer.from(d).toString('hex'))).toEqual(deks.map((d) => d.toString('hex')));
    });
  });
}
