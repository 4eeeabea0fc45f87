import { NATIVE_GCM_FILE } from '../seal/internal/native-gcm.js';
import { loadAddon, optionalAddon } from './package-root.js';

/**
 * Zeroing on the libuv thread pool, from the `sealtrain_native` addon (`native/seal/addon.c`):
 * `zeroAsync` overwrites `data` with zeros (glibc's `explicit_bzero`, or `OPENSSL_cleanse`,
 * neither of which a compiler drops), holds `data` until then, and calls back with null, or with
 * an error when the work did not run.
 */
export interface NativeZero {
  zeroAsync(data: Uint8Array, callback: (err: Error | null) => void): void;
}

/** The addon's zeroing, or undefined when the addon cannot load (then {@link zeroSoon} zeroes here). */
export const tryLoadNativeZero = optionalAddon(() =>
  loadAddon<NativeZero>(import.meta.url, NATIVE_GCM_FILE, 'native zeroing', ['zeroAsync']),
);

/** How much {@link zeroSoon} zeroes on this thread between two turns of the event loop, without the addon. */
export const ZERO_STEP_BYTES = 8 * 1024 * 1024;

/**
 * Overwrites `bytes` with zeros without holding this thread for all of it: on the thread pool as
 * one job when the addon is there (this thread goes on with other work meanwhile), else here
 * {@link ZERO_STEP_BYTES} at a time with the event loop let in between, stopping early once
 * `zeroed()` says another wipe did it all. Resolves once every byte is zero; it never rejects (a
 * job that did not run is made up for here). Until then nothing may read `bytes`; zeroing them
 * again meanwhile (a wipe on the way out) is harmless.
 */
export function zeroSoon(
  bytes: Uint8Array,
  options: { native?: NativeZero | undefined; zeroed?: () => boolean } = {},
): Promise<void> {
  // `native: undefined` given means no addon; left out, the addon's when it loads.
  const n = 'native' in options ? options.native : tryLoadNativeZero();
  if (n && bytes.length > 0) {
    return new Promise((resolve) => {
      try {
        n.zeroAsync(bytes, (err) => {
          if (err) bytes.fill(0);
          resolve();
        });
      } catch {
        // Out of memory in the addon: zeroed here instead.
        bytes.fill(0);
        resolve();
      }
    });
  }
  return zeroInSteps(bytes, options.zeroed ?? (() => false));
}

async function zeroInSteps(bytes: Uint8Array, zeroed: () => boolean): Promise<void> {
  for (let at = 0; at < bytes.length; at += ZERO_STEP_BYTES) {
    if (at > 0) await new Promise<void>((resolve) => setImmediate(resolve));
    if (zeroed()) return;
    bytes.fill(0, at, Math.min(at + ZERO_STEP_BYTES, bytes.length));
  }
}
