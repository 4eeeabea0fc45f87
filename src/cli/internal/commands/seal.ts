import { stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { SealtrainError } from '../../../errors/index.js';
import {
  inspectFile,
  reencryptFile,
  rewrapFile,
  type SealMeta,
  type StorageOptions,
  sealFile,
  unsealFile,
  verifySealedFile,
} from '../../../seal/index.js';
import type { Output } from '../output.js';
import { progressFor } from '../progress.js';
import type { Session } from '../session.js';

type Run = (
  action: (session: Session, out: Output, ...args: string[]) => Promise<void>,
  stdoutIsData?: (opts: Record<string, unknown>) => boolean,
) => (...args: unknown[]) => Promise<void>;

interface SealCliOptions {
  output?: string;
  key?: string[];
  force?: boolean;
  datasetId?: string;
  contentType?: string;
  schemaSha256?: string;
  chunkSize?: string;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
const opts = (session: Session): SealCliOptions => session.opts as SealCliOptions;
const toStdout = (o: Record<string, unknown>): boolean => o.output === '-';

async function sizeOf(path: string): Promise<number | undefined> {
  return path === '-' || path.startsWith('az://')
    ? undefined
    : (await stat(path).catch(() => undefined))?.size;
}

/** How to reach Blob Storage, when one of `locations` is an `az://` URI. */
async function storageFor(
  session: Session,
  ...locations: Array<string | undefined>
): Promise<{ storage?: StorageOptions }> {
  return locations.some((l) => l?.startsWith('az://')) ? { storage: await session.storage() } : {};
}

const AZ_HELP =
  'Paths may be az://<account>/<container>/<blob>: reached with --storage-connection-file, else Entra ID.';

function requireOutput(o: SealCliOptions, command: string): string {
  if (!o.output)
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `${command} needs -o <file> (or -o - for standard output).`,
    );
  return o.output;
}

function metaOf(o: SealCliOptions): SealMeta {
  return {
    ...(o.datasetId ? { dataset_id: o.datasetId } : {}),
    ...(o.contentType ? { content_type: o.contentType } : {}),
    ...(o.schemaSha256 ? { schema_sha256: o.schemaSha256 } : {}),
  };
}

function chunkSizeOf(o: SealCliOptions): { chunkSize?: number } {
  if (o.chunkSize === undefined) return {};
  const n = Number(o.chunkSize);
  if (!Number.isInteger(n))
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `--chunk-size must be a number of bytes, not "${o.chunkSize}".`,
    );
  return { chunkSize: n };
}

/** `sealtrain seal|unseal|rewrap|reencrypt|inspect|verify`. */
export function sealCommands(program: Command, run: Run): void {
  program
    .command('seal <input>')
    .description('Encrypt a file (or - for stdin) for one or more keys')
    .option('-o, --output <file>', 'sealed output file, or - for stdout')
    .option('-k, --key <uri>', 'recipient key URI, e.g. local:alice (repeat for several)', collect)
    .option('-f, --force', 'replace an existing output')
    .option('--dataset-id <id>', 'dataset id recorded in the authenticated header')
    .option('--content-type <type>', 'content type recorded in the header, e.g. text/csv')
    .option('--schema-sha256 <hex>', 'schema hash recorded in the header')
    .option('--chunk-size <bytes>', 'plaintext bytes per chunk (power of two, 4096 to 16777216)')
    .addHelpText(
      'after',
      `\nExamples:\n  sealtrain seal data.csv -o data.sealed --key local:hospital-a\n  cat data.csv | sealtrain seal - -o - --key local:a --key local:b > data.sealed\n  sealtrain seal data.csv -o az://hospitaldata/sealed/data.sealed --key "pkcs11:token=hsm;object=kek" \\\n    --pkcs11-module /usr/lib/softhsm/libsofthsm2.so --pin-file pin.txt\n${AZ_HELP}`,
    )
    .action(
      run(async (session, out, input = '') => {
        const o = opts(session);
        const output = requireOutput(o, 'seal');
        if (!o.key?.length)
          throw new SealtrainError(
            'ERR_USAGE_INVALID',
            'seal needs at least one --key <uri>, e.g. --key local:alice.',
          );
        const bar = progressFor('Sealing', await sizeOf(input), !out.json);
        try {
          const r = await sealFile(input, output, {
            recipients: o.key,
            providers: await session.providers(),
            meta: metaOf(o),
            ...chunkSizeOf(o),
            overwrite: o.force ?? false,
            audit: await session.auditContext(),
            ...(await storageFor(session, input, output)),
            ...(bar.onProgress ? { onProgress: bar.onProgress } : {}),
          });
          bar.stop();
          const to = r.recipients.map((k) => `${k.uri}/${k.version}`);
          out.result(
            {
              output: r.path,
              plaintext_length: r.plaintextLength,
              chunks: r.chunkCount,
              recipients: to,
              body_digest: r.bodyDigest,
              engine: r.engine,
            },
            `Sealed ${input} → ${output} (${r.plaintextLength} bytes, ${r.chunkCount} chunks) for ${to.join(', ')}.`,
          );
        } finally {
          bar.stop();
        }
      }, toStdout),
    );
  program
    .command('unseal <input>')
    .description('Decrypt a sealed file (or - for stdin)')
    .option('-o, --output <file>', 'plaintext output file, or - for stdout')
    .option('-k, --key <uri>', 'only try this key (repeatable)', collect)
    .option('-f, --force', 'replace an existing output')
    .addHelpText(
      'after',
      `\nExamples:\n  sealtrain unseal data.sealed -o data.csv\n  sealtrain unseal az://hospitaldata/sealed/data.sealed -o data.csv\n${AZ_HELP} Plaintext is never written to a blob.`,
    )
    .action(
      run(async (session, out, input = '') => {
        const o = opts(session);
        const output = requireOutput(o, 'unseal');
        const bar = progressFor('Unsealing', await sizeOf(input), !out.json);
        try {
          const r = await unsealFile(input, output, {
            providers: await session.providers(),
            ...(o.key ? { keys: o.key } : {}),
            overwrite: o.force ?? false,
            audit: await session.auditContext(),
            ...(await storageFor(session, input, output)),
            ...(bar.onProgress ? { onProgress: bar.onProgress } : {}),
          });
          bar.stop();
          const key = `${r.openedWith.uri}/${r.openedWith.version}`;
          out.result(
            {
              output: r.path,
              plaintext_length: r.plaintextLength,
              chunks: r.chunkCount,
              key,
              body_digest: r.bodyDigest,
              engine: r.engine,
            },
            `Unsealed ${input} → ${output} (${r.plaintextLength} bytes) with ${key}.`,
          );
        } finally {
          bar.stop();
        }
      }, toStdout),
    );
  for (const [name, fn, what] of [
    ['rewrap', rewrapFile, 'Move a sealed file to the newest key versions by rewriting only its header'],
    ['reencrypt', reencryptFile, 'Re-encrypt a sealed file under a fresh data key'],
  ] as const) {
    program
      .command(`${name} <file>`)
      .description(what)
      .option('-k, --key <uri>', 'new recipients (default: the same keys, newest versions)', collect)
      .option('-o, --output <file>', 'write here and keep the original unchanged')
      .option('-f, --force', 'replace an existing output')
      .addHelpText('after', `\nExample:\n  sealtrain keys rotate hospital-a && sealtrain ${name} data.sealed`)
      .action(
        run(async (session, out, file = '') => {
          const o = opts(session);
          const r = await fn(file, {
            providers: await session.providers(),
            ...(o.key ? { recipients: o.key } : {}),
            ...(o.output ? { output: o.output } : {}),
            overwrite: o.force ?? false,
            audit: await session.auditContext(),
            ...(await storageFor(session, file, o.output)),
          });
          const fmt = (ks: typeof r.from): string[] => ks.map((k) => `${k.uri}/${k.version}`);
          out.result(
            { path: r.path, from: fmt(r.from), to: fmt(r.to) },
            `${name === 'rewrap' ? 'Rewrapped' : 'Re-encrypted'} ${r.path}: ${fmt(r.from).join(', ')} → ${fmt(r.to).join(', ')}.`,
          );
        }),
      );
  }
  program
    .command('inspect <file>')
    .description('Show a sealed file’s header, recipients and chunk count without decrypting')
    .addHelpText(
      'after',
      `\nExamples:\n  sealtrain inspect data.sealed --json\n  sealtrain inspect az://hospitaldata/sealed/data.sealed\n${AZ_HELP}`,
    )
    .action(
      run(async (session, out, file = '') => {
        const i = await inspectFile(file, await storageFor(session, file));
        const lines = [
          `${i.path}: sealed-file v${i.formatVersion}, ${i.suite}`,
          `  plaintext ${i.plaintextLength} bytes in ${i.chunkCount} chunks of ${i.chunkSize}`,
          `  created ${i.created}, header generation ${i.generation}`,
          ...Object.entries(i.meta).map(([k, v]) => `  ${k}: ${v}`),
          ...i.recipients.map((r) => `  recipient ${r.uri}/${r.version} (${r.alg})`),
          '  (not authenticated: unseal or verify checks the header and every chunk)',
        ];
        out.result({ file: i }, lines.join('\n'));
      }),
    );
  program
    .command('verify <file>')
    .description('Authenticate the header and every chunk of a sealed file without writing plaintext')
    .addHelpText(
      'after',
      `\nExamples:\n  sealtrain verify data.sealed\n  sealtrain verify az://hospitaldata/sealed/data.sealed --storage-connection-file conn.txt\n${AZ_HELP}`,
    )
    .action(
      run(async (session, out, file = '') => {
        const r = await verifySealedFile(file, await session.providers(), await storageFor(session, file));
        out.result(
          { path: file, plaintext_length: r.plaintextLength, chunks: r.chunkCount },
          `${file}: all ${r.chunkCount} chunks authentic.`,
        );
      }),
    );
}
