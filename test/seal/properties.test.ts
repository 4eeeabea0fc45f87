import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sealBuffer, unsealBuffer } from '../../src/seal/index.js';
import { staticProvider } from '../vectors/static-provider.mjs';

const CS = 4096;
const SLOT = 1024;
const BODY = 16 + 2 * SLOT;
const STRIDE = CS + 16;
const providers = [staticProvider({ p: { 1: randomBytes(32) } })];
const seal = (pt: Uint8Array): Promise<Buffer> =>
  sealBuffer(pt, { recipients: ['local:p'], providers, chunkSize: CS, slotSize: SLOT });
const open = (b: Uint8Array): Promise<Buffer> => unsealBuffer(b, { providers });

async function failsWithCode(b: Uint8Array): Promise<string> {
  try {
    await open(b);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    expect(String(code), String(error)).toMatch(/^ERR_(SEAL|KMS)_/);
    return String(code);
  }
  return 'opened';
}

const plaintexts = fc.uint8Array({ minLength: 0, maxLength: 4 * CS + 100 });

describe('sealed-file properties', () => {
  it('unseal(seal(x)) = x for any bytes', async () => {
    await fc.assert(
      fc.asyncProperty(plaintexts, async (pt) => {
        expect(Buffer.compare(await open(await seal(pt)), Buffer.from(pt))).toBe(0);
      }),
      { numRuns: 60 },
    );
  });

  it('any flipped bit outside the spare header slot fails; inside it, the file still opens unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(plaintexts, fc.nat(), fc.integer({ min: 0, max: 7 }), async (pt, at, bit) => {
        const sealed = await seal(pt);
        const pos = at % sealed.length;
        const bad = Buffer.from(sealed);
        bad[pos] = (bad[pos] ?? 0) ^ (1 << bit);
        const inSpare = pos >= 16 + SLOT && pos < BODY;
        if (inSpare) {
          expect(Buffer.compare(await open(bad), Buffer.from(pt))).toBe(0);
        } else {
          expect(await failsWithCode(bad)).not.toBe('opened');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('every truncation fails', async () => {
    await fc.assert(
      fc.asyncProperty(plaintexts, fc.nat(), async (pt, cut) => {
        const sealed = await seal(pt);
        expect(await failsWithCode(sealed.subarray(0, cut % sealed.length))).not.toBe('opened');
      }),
      { numRuns: 150 },
    );
  });

  it('swapping, dropping or duplicating whole chunks fails', async () => {
    const multi = fc.uint8Array({ minLength: 2 * CS + 1, maxLength: 5 * CS });
    await fc.assert(
      fc.asyncProperty(
        multi,
        fc.nat(),
        fc.nat(),
        fc.constantFrom('swap', 'drop', 'dup'),
        async (pt, a, b, op) => {
          const sealed = await seal(pt);
          const n = Math.ceil((sealed.length - BODY) / STRIDE);
          const chunks = Array.from({ length: n }, (_, i) =>
            sealed.subarray(BODY + i * STRIDE, BODY + (i + 1) * STRIDE),
          );
          const i = a % (n - 1);
          const j = i + 1 + (b % (n - 1 - i));
          if (op === 'swap') [chunks[i], chunks[j]] = [chunks[j] as Buffer, chunks[i] as Buffer];
          if (op === 'drop') chunks.splice(i, 1);
          if (op === 'dup') chunks.splice(j, 0, chunks[i] as Buffer);
          const code = await failsWithCode(Buffer.concat([sealed.subarray(0, BODY), ...chunks]));
          expect(['ERR_SEAL_DECRYPT_FAILED', 'ERR_SEAL_TRUNCATED']).toContain(code);
        },
      ),
      { numRuns: 120 },
    );
  });

  it('two seals of the same data differ (fresh key and salt each time)', async () => {
    const pt = randomBytes(1000);
    expect(Buffer.compare(await seal(pt), await seal(pt))).not.toBe(0);
  });
});
