// The SHA-256 stream hashed on the thread pool (the native addon) gives node:crypto's digests,
// however the bytes are cut, with a digest of the prefix taken on the way; its state takes one
// update at a time, is spent by its digest, and refuses anything that is not one of its states.
// Without the addon, node:crypto gives the same results.

import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import {
  BackgroundSha256,
  type NativeSha256,
  tryLoadNativeSha256,
} from '../../src/internal/background-sha256.js';

// A missing or broken build fails this file: the stream never falls back silently here.
const loaded = tryLoadNativeSha256();
if (!loaded)
  throw new Error(
    'the native addon (build/Release/sealtrain_native.node) did not load: npm run build:native',
  );
const native: NativeSha256 = loaded;

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest();

const codeOf = (run: () => unknown): string | undefined => {
  try {
    run();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
};

describe.each([
  ['the addon', native],
  ['node:crypto', undefined],
] as const)('BackgroundSha256 with %s', (_name, backend) => {
  it('gives the digest of every byte queued, and of the prefix on the way, however they are cut', async () => {
    const bytes = randomBytes(300_000);
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 0, max: bytes.length }), { maxLength: 10 }),
        fc.integer({ min: 0, max: bytes.length }),
        async (cuts, at) => {
          const ends = [...new Set([...cuts, at, bytes.length])].sort((a, b) => a - b);
          const h = new BackgroundSha256({ native: backend });
          let from = 0;
          let prefix: Promise<Buffer> | undefined;
          for (const end of ends) {
            h.update(bytes.subarray(from, end));
            from = end;
            if (end === at) prefix = h.digestSoFar();
          }
          const [whole, part] = await Promise.all([h.digest(), prefix]);
          expect(whole.equals(sha(bytes))).toBe(true);
          expect(part?.equals(sha(bytes.subarray(0, at)))).toBe(true);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('refuses to go on after its digest, and a disposed stream gives nothing', async () => {
    const h = new BackgroundSha256({ native: backend });
    h.update(Buffer.from('abc'));
    expect((await h.digest()).toString('hex')).toBe(sha(Buffer.from('abc')).toString('hex'));
    expect(codeOf(() => h.update(Buffer.from('d')))).toBe('ERR_INTERNAL');
    const d = new BackgroundSha256({ native: backend });
    d.update(randomBytes(1000));
    d.dispose();
    d.dispose();
    expect(codeOf(() => d.digest())).toBe('ERR_INTERNAL');
  });
});

describe('the addon SHA-256 state', () => {
  it('hashes 64 MiB on the thread pool while the main thread goes on', async () => {
    const bytes = randomBytes(64 * 1024 * 1024);
    const state = native.sha256Create();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    await new Promise<void>((resolve, reject) =>
      native.sha256UpdateAsync(state, bytes, (err) => (err ? reject(err) : resolve())),
    );
    clearInterval(timer);
    expect(native.sha256Digest(state).equals(sha(bytes))).toBe(true);
    // The event loop turned while the update ran: it did not run on this thread.
    expect(ticks).toBeGreaterThan(0);
  });

  it('takes one update at a time: while one runs, every other call on the state throws', async () => {
    const state = native.sha256Create();
    const done = new Promise<Error | null>((resolve) =>
      native.sha256UpdateAsync(state, randomBytes(8 * 1024 * 1024), resolve),
    );
    expect(codeOf(() => native.sha256Copy(state))).toBe('ERR_INVALID_STATE');
    expect(codeOf(() => native.sha256Digest(state))).toBe('ERR_INVALID_STATE');
    expect(codeOf(() => native.sha256UpdateAsync(state, Buffer.from('x'), () => {}))).toBe(
      'ERR_INVALID_STATE',
    );
    expect(await done).toBeNull();
    // The copy goes on apart from the original.
    const copy = native.sha256Copy(state);
    expect(native.sha256Digest(copy).equals(native.sha256Digest(state))).toBe(true);
    expect(codeOf(() => native.sha256Digest(state))).toBe('ERR_INVALID_STATE');
  });

  it('refuses what is not one of its states, bytes that are not a Uint8Array, a missing callback', () => {
    const state = native.sha256Create();
    for (const bad of [{}, Buffer.alloc(32), null, undefined, 7])
      expect(codeOf(() => native.sha256Digest(bad as object))).toBe('ERR_INVALID_ARG_TYPE');
    expect(codeOf(() => native.sha256UpdateAsync(state, 'text' as unknown as Uint8Array, () => {}))).toBe(
      'ERR_INVALID_ARG_TYPE',
    );
    expect(codeOf(() => native.sha256UpdateAsync(state, new Float32Array(4) as never, () => {}))).toBe(
      'ERR_INVALID_ARG_TYPE',
    );
    expect(
      codeOf(() => native.sha256UpdateAsync(state, Buffer.from('x'), undefined as unknown as () => void)),
    ).toBe('ERR_INVALID_ARG_TYPE');
    // None of the refused calls touched the state.
    expect(native.sha256Digest(state).equals(sha(Buffer.alloc(0)))).toBe(true);
  });
});

/** The addon, with every call counted (and updates optionally failed). */
function spied(failUpdates = false) {
  const calls = { create: 0, update: 0, digest: 0 };
  const spy: NativeSha256 = {
    sha256Create: () => {
      calls.create++;
      return native.sha256Create();
    },
    sha256UpdateAsync: (state, data, callback) => {
      calls.update++;
      if (failUpdates) native.sha256UpdateAsync(state, data, () => callback(new Error('injected')));
      else native.sha256UpdateAsync(state, data, callback);
    },
    sha256Copy: (state) => native.sha256Copy(state),
    sha256Digest: (state) => {
      calls.digest++;
      return native.sha256Digest(state);
    },
  };
  return { spy, calls };
}

describe('BackgroundSha256 on the bad paths', () => {
  it('disposed, drops the pieces not yet started, rejects the digest asked for, and cleanses its state', async () => {
    const { spy, calls } = spied();
    const h = new BackgroundSha256({ native: spy });
    h.update(randomBytes(4 * 1024 * 1024)); // in flight
    h.update(randomBytes(1024));
    h.update(randomBytes(1024));
    const soFar = h.digestSoFar();
    h.dispose();
    await expect(soFar).rejects.toMatchObject({ code: 'ERR_INTERNAL' });
    // Once the piece in flight is hashed, the state is spent (cleansed), once; no other piece ran.
    await vi.waitFor(() => expect(calls.digest).toBe(1), { timeout: 10_000 });
    expect(calls.update).toBe(1);
  });

  it('after a failed update, rejects every digest, now and later, and cleanses its state', async () => {
    const { spy, calls } = spied(true);
    const h = new BackgroundSha256({ native: spy });
    h.update(Buffer.from('first'));
    h.update(Buffer.from('second'));
    const soFar = h.digestSoFar();
    await expect(soFar).rejects.toThrow('injected');
    await expect(h.digest()).rejects.toThrow('injected');
    expect(calls.update).toBe(1);
    expect(calls.digest).toBe(1); // the cleansing digest, whose result nobody sees
  });

  it('falls back to node:crypto when the addon cannot make a state', async () => {
    const broken: NativeSha256 = {
      ...native,
      sha256Create: () => {
        throw new Error('out of memory');
      },
    };
    const h = new BackgroundSha256({ native: broken });
    h.update(Buffer.from('abc'));
    expect((await h.digest()).equals(sha(Buffer.from('abc')))).toBe(true);
  });
});
