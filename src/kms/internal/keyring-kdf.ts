import { SealtrainError } from '../../errors/index.js';
import type { ScryptParams } from './keyring-crypto.js';
import type { FieldReader } from './keyring-file.js';

/** scrypt cost N for new keyrings: 2^17 (128 MiB with r = 8). */
export const DEFAULT_SCRYPT_N = 2 ** 17;
/** Smallest and largest scrypt cost N a keyring may use. */
export const MIN_SCRYPT_N = 2 ** 10;
export const MAX_SCRYPT_N = 2 ** 22;
/** Largest scrypt memory (128 · N · r bytes) a keyring may ask for: 4 GiB. */
const MAX_SCRYPT_MEMORY = 2 ** 32;

function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

/** Reads and bounds-checks the stored `kdf` object (before any work is done with it). */
export function readKdf(fields: FieldReader): ScryptParams {
  if (fields.get('name') !== 'scrypt') fields.fail('name', 'is not "scrypt"');
  const N = fields.integer('N', MIN_SCRYPT_N, MAX_SCRYPT_N);
  if (!isPowerOfTwo(N)) fields.fail('N', 'is not a power of two');
  const r = fields.integer('r', 1, 32);
  const p = fields.integer('p', 1, 16);
  if (128 * N * r > MAX_SCRYPT_MEMORY) fields.fail('r', 'asks scrypt for more than 4 GiB with this N');
  const salt = fields.bytes('salt', 16, 64);
  return { name: 'scrypt', N, r, p, salt };
}

/** Checks the `scryptCost` option of a new keyring: a power of two from 2^10 to 2^22. */
export function checkScryptCost(cost: number): number {
  if (!isPowerOfTwo(cost) || cost < MIN_SCRYPT_N || cost > MAX_SCRYPT_N) {
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `The scrypt cost must be a power of two from ${MIN_SCRYPT_N} to ${MAX_SCRYPT_N}, not ${cost}.`,
      { details: { scryptCost: cost } },
    );
  }
  return cost;
}
