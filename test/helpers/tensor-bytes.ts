// A small classification tensor file (one float32 feature, int32 labels 0/1) written through
// sealtrain's writer: for tests that need real tensor-file bytes.

import { TensorFileWriter } from '../../src/data/tensor-file.js';

/** The file's bytes and digest, for `rows` rows: feature i, label i % 2. */
export async function tensorFileBytes(rows: number): Promise<{ bytes: Buffer; sha256: string }> {
  const chunks: Uint8Array[] = [];
  const writer = new TensorFileWriter(
    {
      split: 'train',
      columns: ['x'],
      labelColumn: 'y',
      classes: ['a', 'b'],
      tensors: [
        { name: 'features', dtype: 'float32', shape: [rows, 1] },
        { name: 'labels', dtype: 'int32', shape: [rows] },
      ],
    },
    async (c) => {
      chunks.push(c);
    },
  );
  await writer.writeRows(
    'features',
    Float32Array.from({ length: rows }, (_, i) => i + 0.5),
  );
  await writer.writeRows(
    'labels',
    Int32Array.from({ length: rows }, (_, i) => i % 2),
  );
  const { sha256 } = await writer.finish();
  return { bytes: Buffer.concat(chunks), sha256 };
}
