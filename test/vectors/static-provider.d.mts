import type { KeyProvider } from '../../src/kms/index.js';

export function staticProvider(keks: Record<string, Record<string, Buffer>>, scheme?: string): KeyProvider;
export function seededRandom(seed: string): (size: number) => Buffer;
