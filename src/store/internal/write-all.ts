import type { Readable } from 'node:stream';
import type { ArtifactWriter, PutResult } from '../artifact-store.js';

/**
 * Writes `source` through `out` from offset 0 and commits; on any failure (the source's included)
 * aborts, so nothing becomes visible, and rethrows through `wrap`.
 */
export async function writeAll(
  out: ArtifactWriter,
  source: Readable | Uint8Array,
  wrap: (error: unknown) => unknown,
): Promise<PutResult> {
  let size = 0;
  try {
    if (source instanceof Uint8Array) {
      await out.write(source, 0);
      size = source.byteLength;
    } else
      for await (const chunk of source) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
        await out.write(bytes, size);
        size += bytes.byteLength;
      }
  } catch (error) {
    await out.abort();
    throw wrap(error);
  }
  const result = await out.commit();
  return { etag: result.etag, size };
}
