// Generates the tensor-file v1 test vectors in test/vectors/tensor/files/: `<name>.tensor` and
// `<name>.json` (what a reader must return, or the error code and reason it must fail with).
// Run: `node test/vectors/tensor/generate.mjs`. The encoder below follows
// docs/spec/tensor-file-v1.md on its own, without the library, so the vectors check the reader
// and the writer against the spec rather than against each other. Deterministic: same code,
// same bytes. Each failing case breaks exactly one rule; the rest of the file, hashes included,
// stays consistent.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const OUT = new URL('./files/', import.meta.url);
const MAGIC = Buffer.from([0x89, 0x53, 0x54, 0x54, 0x45, 0x4e, 0x53, 0x0a]);
const SIZE = { float32: 4, float64: 8, int32: 4, uint8: 1 };
const ARRAY = { float32: Float32Array, float64: Float64Array, int32: Int32Array, uint8: Uint8Array };
const align = (n) => Math.ceil(n / 64) * 64;
const sha256 = (b) => createHash('sha256').update(b).digest();
const canonical = (v) =>
  Array.isArray(v)
    ? `[${v.map(canonical).join(',')}]`
    : v !== null && typeof v === 'object'
      ? `{${Object.keys(v)
          .filter((k) => v[k] !== undefined)
          .sort()
          .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
          .join(',')}}`
      : JSON.stringify(v);
const u16 = (n) => Buffer.from([n & 0xff, n >> 8]);
const u32 = (n) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

/** Little-endian bytes of `values` as `dtype`. */
function encode(dtype, values) {
  const b = Buffer.alloc(values.length * SIZE[dtype]);
  const view = new DataView(b.buffer, b.byteOffset, b.length);
  const set = {
    float32: (i, x) => view.setFloat32(4 * i, x, true),
    float64: (i, x) => view.setFloat64(8 * i, x, true),
    int32: (i, x) => view.setInt32(4 * i, x, true),
    uint8: (i, x) => view.setUint8(i, x),
  }[dtype];
  for (const [i, x] of values.entries()) set(i, x);
  return b;
}

/**
 * A tensor file for `d`. `edit` breaks one thing: `header(h)` changes the header object (after
 * layout), `headerText(h)` replaces its serialisation, `trailer(t)` the trailer object,
 * `version`, `flags`, `padding` (the byte used for padding), `keep` (bytes to keep of a file too
 * large to build whole), `after(bytes)` the finished file.
 */
function build(d, edit = {}) {
  const data = d.tensors.map((t) => encode(t.dtype, t.values));
  let start = 64;
  let header;
  let text;
  for (;;) {
    let at = start;
    header = {
      version: 1,
      tensors: d.tensors.map((t, i) => {
        const entry = {
          name: t.name,
          dtype: t.dtype,
          shape: t.shape,
          offset: at,
          byteLength: data[i].length,
        };
        at = align(at + data[i].length);
        return entry;
      }),
      rowOrder: 'split-order',
      split: d.split,
      columns: d.columns,
      labelColumn: d.labelColumn,
      classes: d.classes,
      metadata: d.metadata,
    };
    header = edit.header ? edit.header(header) : header;
    text = Buffer.from(edit.headerText ? edit.headerText(header) : canonical(header));
    const next = align(16 + text.length);
    if (next === start) break;
    start = next;
  }
  const last = header.tensors[header.tensors.length - 1];
  const end = align(last.offset + last.byteLength);
  const body = Buffer.alloc(Math.min(end, edit.keep ?? end), edit.padding ?? 0);
  Buffer.concat([MAGIC, u16(edit.version ?? 1), u16(edit.flags ?? 0), u32(text.length), text]).copy(body);
  for (const [i, t] of header.tensors.entries()) if (t.offset < body.length) data[i]?.copy(body, t.offset);
  if (edit.keep !== undefined) return body;
  let trailer = {
    tensors: d.tensors.map((t, i) => ({ name: t.name, sha256: sha256(data[i]).toString('hex') })),
  };
  trailer = edit.trailer ? edit.trailer(trailer) : trailer;
  const trailerText = Buffer.from(canonical(trailer));
  const file = Buffer.concat([body, u32(trailerText.length), trailerText]);
  const whole = Buffer.concat([file, sha256(file)]);
  return edit.after ? edit.after(whole) : whole;
}

const flip = (at) => (b) => {
  const c = Buffer.from(b);
  c[at < 0 ? c.length + at : at] ^= 0x01;
  return c;
};

const classification = {
  split: 'train',
  columns: ['radius', 'texture', 'color=blue', 'color=red'],
  labelColumn: 'diagnosis',
  classes: ['benign', 'malignant'],
  metadata: { dataset_id: 'vectors', note: 'ünïcödé' },
  tensors: [
    {
      name: 'features',
      dtype: 'float32',
      shape: [5, 4],
      values: [
        ...[0.5, -1.25, 1, 0, 0.1, 3e38, 0, 1, -2, 1e-30, 1, 0, 2.5, -7, 0, 1],
        ...[Number.EPSILON, 65504, 1, 0],
      ],
    },
    { name: 'labels', dtype: 'int32', shape: [5], values: [0, 1, 1, 0, 1] },
  ],
};
const cut = (n) => (b) => b.subarray(0, b.length - n);
const firstData = align(16 + build(classification).readUInt32LE(12));
const labelsData = firstData + align(5 * 4 * 4);

const cases = [
  ['ok_classification', 'features and integer labels with classes and metadata', classification, {}, 'ok'],
  [
    'ok_minimal',
    'one float64 features tensor, no labels',
    {
      split: 'test',
      columns: ['a', 'b'],
      tensors: [
        { name: 'features', dtype: 'float64', shape: [3, 2], values: [Math.PI, -0.5, 1e300, 0, -1, 2] },
      ],
    },
    {},
    'ok',
  ],
  [
    'ok_empty_split',
    'zero rows: empty tensors, offsets still aligned',
    {
      split: 'validation',
      columns: ['a', 'b', 'c'],
      labelColumn: 'y',
      classes: ['no', 'yes'],
      tensors: [
        { name: 'features', dtype: 'float32', shape: [0, 3], values: [] },
        { name: 'labels', dtype: 'int32', shape: [0], values: [] },
      ],
    },
    {},
    'ok',
  ],
  [
    'ok_images_uint8',
    'uint8 images [rows, 2, 3], uint8 labels, and a float64 weights tensor',
    {
      split: 'train',
      columns: ['p0', 'p1', 'p2', 'p3', 'p4', 'p5'],
      labelColumn: 'label',
      classes: ['zero', 'one', 'two'],
      tensors: [
        {
          name: 'features',
          dtype: 'uint8',
          shape: [2, 2, 3],
          values: [0, 1, 127, 128, 254, 255, 9, 8, 7, 6, 5, 4],
        },
        { name: 'labels', dtype: 'uint8', shape: [2], values: [2, 0] },
        { name: 'weights', dtype: 'float64', shape: [2], values: [0.25, 4] },
      ],
    },
    {},
    'ok',
  ],
  [
    'ok_regression',
    'float32 labels, no classes',
    {
      split: 'test',
      columns: ['x'],
      labelColumn: 'price',
      tensors: [
        { name: 'features', dtype: 'float32', shape: [3, 1], values: [1, 2, 3] },
        { name: 'labels', dtype: 'float32', shape: [3], values: [10.5, -2, 0.75] },
      ],
    },
    {},
    'ok',
  ],
  ['err_bad_magic', 'a sealed file magic', classification, { after: flip(4) }, 'bad-magic'],
  ['err_not_tensor', 'a CSV file', null, { raw: Buffer.from('a,b\n1,2\n') }, 'bad-magic'],
  ['err_short_preamble', 'only the magic', null, { raw: MAGIC }, 'truncated'],
  ['err_version_2', 'format version 2', classification, { version: 2 }, 'unsupported-version'],
  ['err_flags', 'reserved flags set', classification, { flags: 1 }, 'bad-flags'],
  [
    'err_header_len_huge',
    'header length 2^20 + 1',
    classification,
    { after: (b) => Buffer.concat([b.subarray(0, 12), u32(2 ** 20 + 1), b.subarray(16)]) },
    'bad-header',
  ],
  [
    'err_header_not_json',
    'the header is not JSON',
    classification,
    { headerText: (h) => canonical(h).slice(1) },
    'bad-header',
  ],
  [
    'err_header_whitespace',
    'the header has whitespace (not canonical)',
    classification,
    { headerText: (h) => JSON.stringify(JSON.parse(canonical(h)), null, 1) },
    'bad-header',
  ],
  [
    'err_header_unsorted',
    'members not sorted (not canonical)',
    classification,
    { headerText: (h) => JSON.stringify(h) },
    'bad-header',
  ],
  [
    'err_unknown_member',
    'an unknown header member',
    classification,
    { header: (h) => ({ ...h, extra: 1 }) },
    'bad-header',
  ],
  [
    'err_bad_dtype',
    'dtype int64',
    classification,
    { header: (h) => ({ ...h, tensors: h.tensors.map((t, i) => (i === 1 ? { ...t, dtype: 'int64' } : t)) }) },
    'bad-header',
  ],
  [
    'err_bad_offset',
    'features declared (and stored) 64 bytes later than the layout puts it',
    classification,
    {
      header: (h) => ({
        ...h,
        tensors: h.tensors.map((t) => ({ ...t, offset: t.offset + 64 })),
      }),
    },
    'bad-header',
  ],
  [
    'err_byte_length',
    'labels byteLength one element short of its shape',
    classification,
    { header: (h) => ({ ...h, tensors: h.tensors.map((t, i) => (i === 1 ? { ...t, byteLength: 16 } : t)) }) },
    'bad-header',
  ],
  [
    'err_rows_differ',
    'labels declares 4 rows, features 5',
    classification,
    {
      header: (h) => ({
        ...h,
        tensors: h.tensors.map((t, i) => (i === 1 ? { ...t, shape: [4], byteLength: 16 } : t)),
      }),
    },
    'bad-header',
  ],
  [
    'err_columns_count',
    'three column names for four feature values a row',
    classification,
    { header: (h) => ({ ...h, columns: h.columns.slice(0, 3) }) },
    'bad-header',
  ],
  [
    'err_huge_shape',
    'a shape that needs more than 2^50 bytes',
    classification,
    {
      header: (h) => ({
        ...h,
        tensors: h.tensors.map((t, i) => (i === 1 ? { ...t, shape: [5, 2 ** 30, 2 ** 30] } : t)),
      }),
    },
    'bad-header',
  ],
  [
    'err_declared_beyond_file',
    'the header declares far more data than the file holds',
    classification,
    {
      header: (h) => ({
        ...h,
        tensors: h.tensors.map((t, i) =>
          i === 1 ? { ...t, shape: [5, 10 ** 8], byteLength: 2 * 10 ** 9 } : t,
        ),
      }),
      keep: 4096,
    },
    'truncated',
  ],
  ['err_nonzero_padding', 'padding bytes are 0xff', classification, { padding: 0xff }, 'nonzero-padding'],
  [
    'err_trailer_order',
    'the trailer lists the tensors in another order',
    classification,
    { trailer: (t) => ({ tensors: [...t.tensors].reverse() }) },
    'bad-trailer',
  ],
  [
    'err_tensor_hash',
    'one bit flipped in features, checksum recomputed',
    classification,
    {
      after: (b) => {
        const c = flip(firstData + 3)(b).subarray(0, b.length - 32);
        return Buffer.concat([c, sha256(c)]);
      },
    },
    'tensor-checksum',
  ],
  [
    'err_data_flipped',
    'one bit flipped in labels',
    classification,
    { after: flip(labelsData + 2) },
    'tensor-checksum',
  ],
  ['err_checksum', 'one bit flipped in the checksum', classification, { after: flip(-1) }, 'checksum'],
  ['err_truncated_end', 'the last byte cut', classification, { after: cut(1) }, 'truncated'],
  [
    'err_truncated_data',
    'cut inside the features',
    classification,
    { after: (b) => b.subarray(0, firstData + 10) },
    'truncated',
  ],
  [
    'err_trailing',
    'one byte appended',
    classification,
    { after: (b) => Buffer.concat([b, Buffer.of(0)]) },
    'trailing-bytes',
  ],
];

await rm(OUT, { recursive: true, force: true });
await mkdir(OUT, { recursive: true });
for (const [name, description, d, edit, expect] of cases) {
  const bytes = edit.raw ?? build(d, edit);
  const vector = {
    name,
    description,
    expect: expect === 'ok' ? 'ok' : 'ERR_DATA_MALFORMED',
    ...(expect === 'ok' ? {} : { reason: expect }),
    sha256: sha256(bytes).toString('hex'),
    ...(expect === 'ok'
      ? {
          header: JSON.parse(bytes.subarray(16, 16 + bytes.readUInt32LE(12)).toString()),
          tensors: d.tensors.map((t) => ({
            name: t.name,
            dtype: t.dtype,
            shape: t.shape,
            values: Array.from(ARRAY[t.dtype].from(t.values)),
          })),
        }
      : {}),
  };
  await writeFile(new URL(`${name}.tensor`, OUT), bytes);
  await writeFile(new URL(`${name}.json`, OUT), `${JSON.stringify(vector, null, 2)}\n`);
}
// The JSON files are checked in formatted as the repository's formatter writes them.
const biome = fileURLToPath(new URL('../../../node_modules/@biomejs/biome/bin/biome', import.meta.url));
execFileSync(process.execPath, [biome, 'format', '--write', fileURLToPath(OUT)], { stdio: 'ignore' });
console.log(`wrote ${(await readdir(OUT)).length / 2} vectors to ${fileURLToPath(OUT)}`);
