import { loadAddon } from '../../internal/package-root.js';
import type { Kernels } from './kernels.js';

/** Where node-gyp puts the training addon, relative to the package root (`binding.gyp`). */
export const NATIVE_TRAIN_FILE = 'build/Release/sealtrain_train.node';

/** What the addon reports about itself. */
export interface NativeInfo {
  /** The GEMM micro-kernel in use. */
  readonly isa: 'avx512' | 'avx2' | 'portable';
  /** Threads the kernels split work over (the caller's thread included). */
  readonly threads: number;
  /** Whether this CPU has AVX2 and FMA. */
  readonly avx2Available: boolean;
  /** Whether this CPU has AVX-512F (and AVX2). */
  readonly avx512Available: boolean;
}

/**
 * The `sealtrain_train` addon: the {@link Kernels} on `Float32Array`s (a `Float64Array` throws a
 * TypeError), every array checked against the dimensions before any memory is touched (a
 * RangeError otherwise, as for an output that overlaps another argument, or a matrix above 2^28
 * elements), plus
 * `configure(isa?, threads?)`, which selects the micro-kernel and the thread count for the whole
 * process and returns the settings in force.
 */
export interface NativeAddon extends Omit<Kernels, 'name' | 'wipeScratch'> {
  configure(isa?: 'avx512' | 'avx2' | 'portable' | null, threads?: number): NativeInfo;
  /** Zeroes the GEMM's packing scratch on this thread (all of its capacity). */
  wipeScratch(): void;
  /** How many values in the packing scratch are not zero (for tests and audits). */
  scratchNonZero(): number;
}

const EXPORTS = [
  'configure',
  'gemm',
  'denseForward',
  'denseBackward',
  'dropout',
  'softmaxCrossEntropy',
  'sigmoidCrossEntropy',
  'squaredError',
  'sumSquares',
  'rowSumSquares',
  'adamStep',
  'sgdStep',
  'wipeScratch',
  'scratchNonZero',
] as const;

let loaded: NativeAddon | undefined;

/** Loads the addon; throws ERR_INTERNAL when it is missing, fails to load, or lacks an export. */
export function loadNativeAddon(): NativeAddon {
  loaded ??= loadAddon<NativeAddon>(import.meta.url, NATIVE_TRAIN_FILE, 'training engine addon', EXPORTS);
  return loaded;
}

/** The native kernels under their current configuration. */
export function nativeKernels(addon: NativeAddon = loadNativeAddon()): Kernels {
  // The addon's exports are not enumerable: copy them by name.
  const entries = EXPORTS.filter((name) => name !== 'configure' && name !== 'scratchNonZero').map((name) => [
    name,
    addon[name],
  ]);
  return { ...Object.fromEntries(entries), name: `native-${addon.configure().isa}` } as Kernels;
}
