import type { Kernels } from './internal/kernels.js';
import { loadNativeAddon, type NativeInfo, nativeKernels } from './internal/native-kernels.js';
import { referenceKernels } from './internal/reference-kernels.js';

/** Which kernels to run on: `auto` is the native addon when it loads, else the reference with a warning. */
export type BackendChoice = 'auto' | 'native' | 'reference';

/** Options for {@link selectKernels}. */
export interface BackendOptions {
  readonly backend?: BackendChoice;
  /** Threads for the native kernels (process-wide); default: every core. */
  readonly threads?: number;
  /** The native micro-kernel (falling back to the best the CPU has below it); default: the best. */
  readonly isa?: 'avx512' | 'avx2' | 'portable';
  /** Receives the fallback warning; default `process.emitWarning`. */
  readonly warn?: (message: string) => void;
}

let warned = false;

/**
 * The kernels to train with. `native` throws ERR_INTERNAL when the addon cannot load; `auto`
 * falls back to the TypeScript reference (correct, about a hundred times slower) and says so
 * once per process.
 */
export function selectKernels(options: BackendOptions = {}): Kernels {
  const choice = options.backend ?? 'auto';
  if (choice === 'reference') return referenceKernels;
  try {
    const addon = loadNativeAddon();
    if (options.isa !== undefined || options.threads !== undefined)
      addon.configure(options.isa ?? null, options.threads);
    return nativeKernels(addon);
  } catch (error) {
    if (choice === 'native') throw error;
    if (!warned) {
      warned = true;
      const reason = error instanceof Error ? error.message : String(error);
      (options.warn ?? ((m: string) => process.emitWarning(m, 'SealtrainWarning')))(
        `The training engine's native kernels did not load (${reason}). Training runs on the ` +
          'TypeScript reference kernels, which are about a hundred times slower. Rebuild with `npm rebuild sealtrain` ' +
          '(needs g++, make and python3).',
      );
    }
    return referenceKernels;
  }
}

/** The native kernels' settings, or undefined when the addon does not load. */
export function nativeInfo(): NativeInfo | undefined {
  try {
    return loadNativeAddon().configure();
  } catch {
    return undefined;
  }
}
