// Generates the sealed-file v1 test vectors in test/vectors/files/ from the built library
// (`npm run vectors` builds first). Deterministic: same code, same bytes. One case per file;
// each names the keys a reader holds and the outcome it must reach.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { rewrapFile, sealBuffer, sealFile } from '../../dist/seal/index.js';
import { seededRandom, staticProvider } from './static-provider.mjs';

const OUT = new URL('./files/', import.meta.url);
const CS = 4096;
const SLOT = 1024;
const BODY = 16 + 2 * SLOT;
const STRIDE = CS + 16;
const kek = (label) => createHash('sha256').update(`sealtrain vector kek ${label}`).digest();
const KEYS = { 'vectors-a': { 1: kek('a1'), 2: kek('a2') }, 'vectors-b': { 1: kek('b1') } };
const hex = (keys) =>
  Object.fromEntries(
    Object.entries(keys).map(([n, vs]) => [
      n,
      Object.fromEntries(Object.entries(vs).map(([v, k]) => [v, k.toString('hex')])),
    ]),
  );
const provider = staticProvider(KEYS);
const plaintext = (n, seed = 'plain') => seededRandom(seed)(n);
const base = { chunkSize: CS, slotSize: SLOT, clock: () => new Date('2026-11-23T00:00:00.000Z') };

const seal = (pt, opts = {}) =>
  sealBuffer(pt, {
    recipients: ['local:vectors-a/1'],
    providers: [provider],
    random: seededRandom(opts.seed ?? 'dek'),
    ...base,
    ...opts,
  });

async function sealStreamed(pt, seed = 'dek') {
  const sink = new PassThrough();
  const parts = [];
  sink.on('data', (d) => parts.push(d));
  await sealFile('-', '-', {
    recipients: ['local:vectors-a/1'],
    providers: [provider],
    random: seededRandom(seed),
    ...base,
    stdio: { stdin: Readable.from([pt]), stdout: sink },
  });
  return Buffer.concat(parts);
}

async function rewrapped(sealed) {
  const dir = await mkdtemp(join(tmpdir(), 'sealtrain-vectors-'));
  const path = join(dir, 'f.sealed');
  await writeFile(path, sealed);
  await rewrapFile(path, { providers: [provider], recipients: ['local:vectors-a/2'] });
  const out = await readFile(path);
  await rm(dir, { recursive: true });
  return out;
}

const flip = (buf, at) => {
  const b = Buffer.from(buf);
  b[at] ^= 0x01;
  return b;
};
const chunk = (buf, i) => buf.subarray(BODY + i * STRIDE, BODY + (i + 1) * STRIDE);
const replaceAscii = (buf, from, to) => {
  const b = Buffer.from(buf);
  const at = b.indexOf(from);
  if (at < 0 || from.length !== to.length) throw new Error(`no ${from}`);
  b.write(to, at, 'latin1');
  return b;
};

async function cases() {
  const p = plaintext(10000);
  const multi = await seal(p);
  const streamed = await sealStreamed(p);
  const other = await seal(p, { seed: 'other-dek' });
  const rw = await rewrapped(multi);
  const torn = Buffer.from(multi);
  rw.copy(torn, 16 + SLOT, 16 + SLOT, 16 + 2 * SLOT);
  const tornAt = 16 + SLOT + rw.readUInt32BE(16 + SLOT) - 1;
  torn[tornAt] ^= 0x01;
  const setU16 = (buf, at, v) => {
    const b = Buffer.from(buf);
    b.writeUInt16BE(v, at);
    return b;
  };
  const setU32 = (buf, at, v) => {
    const b = Buffer.from(buf);
    b.writeUInt32BE(v, at);
    return b;
  };
  return [
    [
      'ok_empty',
      'empty plaintext: one empty final chunk',
      await seal(Buffer.alloc(0)),
      'ok',
      Buffer.alloc(0),
    ],
    ['ok_one_byte', 'one byte', await seal(Buffer.from([0x2a])), 'ok', Buffer.from([0x2a])],
    [
      'ok_exact_chunk',
      'exactly one full chunk, which is final',
      await seal(plaintext(CS)),
      'ok',
      plaintext(CS),
    ],
    ['ok_multi_chunk', 'three chunks, the last partial', multi, 'ok', p],
    ['ok_streamed', 'sealed to a pipe: header length is null', streamed, 'ok', p],
    [
      'ok_second_recipient',
      'two recipients; the reader holds only the second',
      await seal(p, { recipients: ['local:vectors-a/1', 'local:vectors-b'] }),
      'ok',
      p,
      { 'vectors-b': KEYS['vectors-b'] },
    ],
    [
      'ok_meta',
      'metadata in the core',
      await seal(p, {
        meta: {
          dataset_id: 'vectors',
          content_type: 'application/octet-stream',
          schema_sha256: 'ab'.repeat(32),
        },
      }),
      'ok',
      p,
    ],
    [
      'ok_rewrapped',
      'rewrapped to vectors-a version 2: slot B, generation 2, slot A erased',
      rw,
      'ok',
      p,
      { 'vectors-a': { 2: KEYS['vectors-a'][2] } },
    ],
    [
      'ok_torn_rewrap',
      'a newer slot whose tag fails (torn rewrite) falls back to the older slot',
      torn,
      'ok',
      p,
    ],
    ['err_not_sealed', 'a CSV file', Buffer.from('a,b\n1,2\n'), 'ERR_SEAL_NOT_SEALED'],
    ['err_unsupported_version', 'format version 2', setU16(multi, 8, 2), 'ERR_SEAL_UNSUPPORTED_VERSION'],
    ['err_unknown_suite', 'cipher suite 7', setU16(multi, 10, 7), 'ERR_SEAL_UNSUPPORTED_VERSION'],
    [
      'err_bad_slot_size',
      'slot size not a power of two',
      setU32(multi, 12, 1000),
      'ERR_SEAL_MALFORMED_HEADER',
    ],
    [
      'err_header_json',
      'core JSON is not JSON',
      replaceAscii(multi, '{"chunk_size"', '["chunk_size"'),
      'ERR_SEAL_MALFORMED_HEADER',
    ],
    [
      'err_unknown_field',
      'an unknown envelope member',
      replaceAscii(multi, '"length"', '"lenXth"'),
      'ERR_SEAL_MALFORMED_HEADER',
    ],
    [
      'err_header_tampered',
      'created time changed: header tag fails',
      replaceAscii(multi, '2026-11-23', '2027-11-23'),
      'ERR_SEAL_HEADER_TAMPERED',
    ],
    [
      'err_chunk_tampered',
      'one bit flipped in chunk 1',
      flip(multi, BODY + STRIDE + 100),
      'ERR_SEAL_DECRYPT_FAILED',
    ],
    [
      'err_tag_tampered',
      'one bit flipped in the tag of chunk 0',
      flip(multi, BODY + CS + 3),
      'ERR_SEAL_DECRYPT_FAILED',
    ],
    [
      'err_truncated_boundary',
      'last chunk dropped (length in header)',
      multi.subarray(0, BODY + 2 * STRIDE),
      'ERR_SEAL_TRUNCATED',
    ],
    [
      'err_truncated_boundary_streamed',
      'last chunk dropped, no length: the final flag catches it',
      streamed.subarray(0, BODY + 2 * STRIDE),
      'ERR_SEAL_TRUNCATED',
    ],
    [
      'err_truncated_mid_chunk',
      'cut inside the last chunk',
      multi.subarray(0, multi.length - 100),
      'ERR_SEAL_TRUNCATED',
    ],
    ['err_truncated_header', 'cut inside the header', multi.subarray(0, 500), 'ERR_SEAL_TRUNCATED'],
    [
      'err_reordered',
      'chunks 0 and 1 swapped',
      Buffer.concat([
        streamed.subarray(0, BODY),
        chunk(streamed, 1),
        chunk(streamed, 0),
        streamed.subarray(BODY + 2 * STRIDE),
      ]),
      'ERR_SEAL_DECRYPT_FAILED',
    ],
    [
      'err_duplicated',
      'chunk 0 repeated',
      Buffer.concat([
        streamed.subarray(0, BODY + STRIDE),
        chunk(streamed, 0),
        streamed.subarray(BODY + STRIDE),
      ]),
      'ERR_SEAL_DECRYPT_FAILED',
    ],
    [
      'err_spliced',
      'chunk 1 taken from another file under the same KEK',
      Buffer.concat([multi.subarray(0, BODY + STRIDE), chunk(other, 1), multi.subarray(BODY + 2 * STRIDE)]),
      'ERR_SEAL_DECRYPT_FAILED',
    ],
    [
      'err_extended',
      'a chunk appended after the final one',
      Buffer.concat([streamed, chunk(streamed, 0)]),
      'ERR_SEAL_DECRYPT_FAILED',
    ],
    [
      'err_appended',
      'bytes appended beyond the length in the header',
      Buffer.concat([multi, Buffer.alloc(40)]),
      'ERR_SEAL_DECRYPT_FAILED',
    ],
    [
      'err_wrong_key',
      'the reader holds a different key under the same name',
      multi,
      'ERR_KMS_UNWRAP_FAILED',
      null,
      { 'vectors-a': { 1: kek('not-a1') } },
    ],
    [
      'err_no_recipient',
      'the reader holds none of the recipients',
      multi,
      'ERR_SEAL_NO_RECIPIENT',
      null,
      { 'vectors-c': { 1: kek('c1') } },
    ],
  ];
}

for (const [name, description, sealed, expect, pt, keys] of await cases()) {
  const vector = {
    name,
    description,
    expect,
    keys: hex(keys ?? KEYS),
    ...(pt ? { plaintext_sha256: createHash('sha256').update(pt).digest('hex') } : {}),
    sealed: Buffer.from(sealed).toString('base64'),
  };
  await writeFile(new URL(`${name}.json`, OUT), `${JSON.stringify(vector, null, 1)}\n`);
}
console.log(`wrote ${(await cases()).length} vectors to ${OUT.pathname}`);
