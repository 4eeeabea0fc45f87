import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SealtrainError } from '../../src/errors/index.js';
import type { ChunkCipher } from '../../src/seal/internal/chunk-cipher.js';
import { chunkCipher } from '../../src/seal/internal/context.js';
import { type EngineOptions, sealBody } from '../../src/seal/internal/engine.js';
import type { ByteSource } from '../../src/seal/internal/io.js';

const FILL = 0x5a;

function memorySource(data: Buffer): ByteSource {
  let at = 0;
  return {
    async read(buf) {
      const n = data.copy(buf, 0, at);
      at += n;
      return n;
    },
  };
}

describe('the body engine after a failed ordered write', () => {
  it('settles every cipher call before it wipes its buffers, and reports the write error', async () => {
    const real = chunkCipher();
    let active = 0;
    let wipedInUse = false;
    let openGate = (): void => {};
    const gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    // Batch 0 seals at once; later batches wait until the sink has failed, then check that
    // their plaintext is still there before sealing it.
    const cipher: ChunkCipher = {
      ...real,
      async sealAsync(key, src, dst, chunkSize, firstIndex, finalIsLast) {
        active++;
        try {
          if (firstIndex > 0) await gate;
          if (!src.every((b) => b === FILL)) wipedInUse = true;
          await real.sealAsync(key, src, dst, chunkSize, firstIndex, finalIsLast);
        } finally {
          active--;
        }
      },
    };
    const sink = {
      ordered: true,
      async write(): Promise<void> {
        setTimeout(openGate, 20);
        throw new SealtrainError('ERR_IO_FAILED', 'Cannot write standard output: broken pipe.');
      },
    };
    const opts: EngineOptions = {
      cipher,
      key: randomBytes(32),
      chunkSize: 4096,
      batchChunks: 2,
      depth: 4,
      name: 'test',
    };
    const source = memorySource(Buffer.alloc(10 * 2 * 4096, FILL));
    const error = await sealBody(source, sink, 0, opts).catch((e: unknown) => e);
    const activeWhenSettled = active;
    await gate;
    expect(error).toMatchObject({ code: 'ERR_IO_FAILED' });
    expect(activeWhenSettled).toBe(0);
    expect(wipedInUse).toBe(false);
  });
});
