import { expect } from 'vitest';
import { isSealtrainError, type SealtrainError } from '../../src/errors/index.js';

/** Awaits `promise`, expects a {@link SealtrainError} with `code`, and returns it. */
export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<SealtrainError> {
  try {
    await promise;
  } catch (error) {
    if (!isSealtrainError(error)) throw error;
    expect(error.code, error.message).toBe(code);
    return error;
  }
  throw new Error(`expected ${code}, but the call succeeded`);
}
