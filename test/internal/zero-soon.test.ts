// Zeroing plaintext off the main thread: on the thread pool with the native addon (exactly the
// bytes of the view it is given), or a piece per turn of the event loop without it; a job that
// did not run is made up for, so that the bytes are zero whenever the promise resolves.

import { describe, expect, it, vi } from 'vitest';
import {
  type NativeZero,
  tryLoadNativeZero,
  ZERO_STEP_BYTES,
  zeroSoon,
} from '../../src/internal/zero-soon.js';

// What the addon's zeroAsync is given, whoever calls it: the default path must be the addon's.
const zeroed = vi.hoisted(() => [] as Uint8Array[]);
vi.mock('../../src/internal/package-root.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/internal/package-root.js')>();
  const loadAddon = <T>(...args: Parameters<typeof actual.loadAddon>): T => {
    const addon = actual.loadAddon<NativeZero>(...args);
    if (!args[3].includes('zeroAsync')) return addon as T;
    return {
      zeroAsync: (data: Uint8Array, callback: (err: Error | null) => void) => {
        zeroed.push(data);
        addon.zeroAsync(data, callback);
      },
    } as T;
  };
  return { ...actual, loadAddon };
});

// A missing or broken build fails this file: zeroing never falls back silently here.
const loaded = tryLoadNativeZero();
if (!loaded)
  throw new Error(
    'the native addon (build/Release/sealtrain_native.node) did not load: npm run build:native',
  );
const native: NativeZero = loaded;

const allZero = (b: Uint8Array) => b.every((x) => x === 0);

describe('zeroSoon', () => {
  it('zeroes exactly the bytes of the view on the thread pool, as one job', async () => {
    const whole = new Uint8Array(3 * ZERO_STEP_BYTES + 5).fill(0xa5);
    const view = whole.subarray(7, whole.length - 3);
    const spy = { zeroAsync: vi.fn(native.zeroAsync) };
    await zeroSoon(view, { native: spy });
    expect(spy.zeroAsync).toHaveBeenCalledTimes(1);
    expect(spy.zeroAsync.mock.calls[0]?.[0]).toBe(view);
    expect(allZero(view)).toBe(true);
    // The bytes around the view are not the view's: left as they were.
    expect([...whole.subarray(0, 7), ...whole.subarray(whole.length - 3)]).toEqual(Array(10).fill(0xa5));
  });

  it('uses the addon by default, and leaves an empty view alone', async () => {
    const bytes = new Uint8Array(1 << 20).fill(1);
    await zeroSoon(bytes);
    expect(zeroed).toContain(bytes);
    expect(allZero(bytes)).toBe(true);
    await expect(zeroSoon(new Uint8Array(0))).resolves.toBeUndefined();
  });

  it("the addon's job on a view whose buffer was transferred away: nothing to zero, no error", async () => {
    const bytes = new Uint8Array(1 << 16).fill(3);
    const moved = structuredClone(bytes.buffer, { transfer: [bytes.buffer] });
    expect(bytes.length).toBe(0); // detached
    const err = await new Promise<Error | null>((resolve) => native.zeroAsync(bytes, resolve));
    expect(err).toBeNull();
    // The bytes now belong to the buffer they moved to, which this job did not touch.
    expect(new Uint8Array(moved).every((x) => x === 3)).toBe(true);
  });

  it('zeroes here when the job did not run or the addon failed to queue it', async () => {
    const notRun: NativeZero = { zeroAsync: (_data, callback) => callback(new Error('cancelled')) };
    const bytes = new Uint8Array(1000).fill(9);
    await zeroSoon(bytes, { native: notRun });
    expect(allZero(bytes)).toBe(true);
    const throwing: NativeZero = {
      zeroAsync: () => {
        throw new Error('Out of memory in sealtrain_native');
      },
    };
    bytes.fill(9);
    await zeroSoon(bytes, { native: throwing });
    expect(allZero(bytes)).toBe(true);
  });

  it('without the addon, zeroes a piece per turn of the event loop', async () => {
    const bytes = new Uint8Array(2 * ZERO_STEP_BYTES + 1).fill(3);
    const zeroing = zeroSoon(bytes, { native: undefined });
    // The first piece is zeroed at once; the event loop runs before the rest is.
    await new Promise((resolve) => setImmediate(resolve));
    const zeros = bytes.filter((x) => x === 0).length;
    expect(zeros).toBeGreaterThanOrEqual(ZERO_STEP_BYTES);
    expect(zeros).toBeLessThan(bytes.length);
    await zeroing;
    expect(allZero(bytes)).toBe(true);
  });

  it('without the addon, stops once another wipe says it zeroed everything', async () => {
    const bytes = new Uint8Array(3 * ZERO_STEP_BYTES).fill(3);
    let done = false;
    const zeroing = zeroSoon(bytes, { native: undefined, zeroed: () => done });
    done = true; // as LoadedSplit.wipe() on the way out, which zeroes the rest itself
    await zeroing;
    expect(bytes.subarray(0, ZERO_STEP_BYTES).every((x) => x === 0)).toBe(true);
    expect(bytes.subarray(ZERO_STEP_BYTES).every((x) => x === 3)).toBe(true);
  });

  it("refuses what is not a Uint8Array, and a callback that is not a function, in the addon's own checks", () => {
    const codeOf = (run: () => unknown) => {
      try {
        run();
      } catch (e) {
        return (e as { code?: string }).code;
      }
      return undefined;
    };
    const call = native.zeroAsync as (...args: unknown[]) => void;
    expect(codeOf(() => call(new Float32Array(4), () => {}))).toBe('ERR_INVALID_ARG_TYPE');
    expect(codeOf(() => call('text', () => {}))).toBe('ERR_INVALID_ARG_TYPE');
    const bytes = new Uint8Array(4).fill(1);
    expect(codeOf(() => call(bytes, 'not a function'))).toBe('ERR_INVALID_ARG_TYPE');
    expect([...bytes]).toEqual([1, 1, 1, 1]);
  });
});
