import { timingSafeEqual } from 'node:crypto';
import { readSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fromFsError, hasSystemCode, SealtrainError } from '../errors/index.js';
import { SecretLineReader } from './internal/secret-line.js';

/** Where {@link readPassphrase} reads from: a file, a file descriptor, or else the terminal. */
export interface ReadPassphraseOptions {
  /** A file whose first line is the passphrase. */
  readonly file?: string;
  /** An open file descriptor, read to its end; its first line is the passphrase. */
  readonly fd?: number;
  /** The terminal prompt; default `Passphrase: `. */
  readonly prompt?: string;
  /** At the terminal, ask twice and require the same answer (for new keyrings). */
  readonly confirm?: boolean;
  /** Read the prompt's answer from this stream instead of the terminal on stdin. */
  readonly input?: NodeJS.ReadableStream;
  /** Write prompts here instead of stderr. */
  readonly output?: NodeJS.WritableStream;
  /**
   * What the secret is called in messages and the stem of its options: default `passphrase`,
   * `--passphrase-file` and `--passphrase-fd`; the PKCS#11 PIN uses `--pin-file` and `--pin-fd`.
   */
  readonly secret?: { readonly name: string; readonly flag: string };
}

/** How messages name the secret and its command-line options. */
interface Naming {
  readonly name: string;
  readonly flags: string;
}

function namingOf(options: ReadPassphraseOptions): Naming {
  const { name, flag } = options.secret ?? { name: 'passphrase', flag: 'passphrase' };
  return { name, flags: `--${flag}-file or --${flag}-fd` };
}

/** Largest passphrase input read from a file or descriptor. */
const MAX_INPUT_BYTES = 1024 * 1024;

/** The first line of `data` without its `\n` or `\r\n`, as a copy; `data` is wiped. */
function firstLine(data: Buffer): Buffer {
  const lf = data.indexOf(0x0a);
  let end = lf === -1 ? data.length : lf;
  if (end > 0 && data[end - 1] === 0x0d) end--;
  const line = Buffer.from(data.subarray(0, end));
  data.fill(0);
  return line;
}

function refuseEmpty(line: Buffer, source: string, n: Naming): Buffer {
  if (line.length > 0) return line;
  throw new SealtrainError('ERR_KMS_PASSPHRASE_REQUIRED', `The ${n.name} from ${source} is empty.`, {
    details: { source },
  });
}

function tooLong(source: string, n: Naming): SealtrainError {
  return new SealtrainError('ERR_USAGE_INVALID', `The ${n.name} input from ${source} is larger than 1 MiB.`, {
    details: { source },
  });
}

async function fromFile(file: string, n: Naming): Promise<Buffer> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (error) {
    throw fromFsError(error, `read the ${n.name} file`, file);
  }
  if (data.length > MAX_INPUT_BYTES) {
    data.fill(0);
    throw tooLong(file, n);
  }
  return refuseEmpty(firstLine(data), file, n);
}

async function fromFd(fd: number, naming: Naming): Promise<Buffer> {
  const source = `file descriptor ${fd}`;
  const chunk = Buffer.alloc(4096);
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, chunk, 0, chunk.length, null);
      } catch (error) {
        if (hasSystemCode(error, 'EAGAIN')) {
          await sleep(10);
          continue;
        }
        if (hasSystemCode(error, 'EOF')) break;
        const reason = hasSystemCode(error, 'EBADF') ? 'it is not open' : String((error as Error).message);
        throw new SealtrainError(
          'ERR_IO_FAILED',
          `Cannot read the ${naming.name} from ${source}: ${reason}.`,
          {
            cause: error,
            details: { fd },
          },
        );
      }
      if (n === 0) break;
      total += n;
      if (total > MAX_INPUT_BYTES) throw tooLong(source, naming);
      chunks.push(Buffer.from(chunk.subarray(0, n)));
    }
    return refuseEmpty(firstLine(Buffer.concat(chunks)), source, naming);
  } finally {
    chunk.fill(0);
    for (const c of chunks) c.fill(0);
  }
}

async function fromPrompt(options: ReadPassphraseOptions, n: Naming): Promise<Buffer> {
  const input = options.input ?? process.stdin;
  if (options.input === undefined && !process.stdin.isTTY) {
    throw new SealtrainError(
      'ERR_KMS_PASSPHRASE_REQUIRED',
      `A ${n.name} is required and there is no terminal to ask for it: use ${n.flags}.`,
    );
  }
  const output = options.output ?? process.stderr;
  const reader = new SecretLineReader(input);
  try {
    const first = refuseEmpty(await reader.line(output, options.prompt ?? 'Passphrase: '), 'the terminal', n);
    if (!options.confirm) return first;
    const again = await reader.line(output, 'Repeat the passphrase: ');
    const same = again.length === first.length && timingSafeEqual(again, first);
    again.fill(0);
    if (same) return first;
    first.fill(0);
    throw new SealtrainError(
      'ERR_KMS_PASSPHRASE_REQUIRED',
      'The two passphrases do not match; nothing was changed.',
    );
  } finally {
    reader.close();
  }
}

/**
 * Reads a passphrase from `file` (its first line), from the descriptor `fd` (read to its end,
 * first line), or else from a prompt on the terminal without echo. A trailing `\n` or `\r\n` is
 * dropped; an empty passphrase is refused with `ERR_KMS_PASSPHRASE_REQUIRED`, as is a missing
 * terminal. Never looks at arguments or the environment. The caller wipes the result.
 */
export async function readPassphrase(options: ReadPassphraseOptions = {}): Promise<Buffer> {
  const n = namingOf(options);
  if (options.file !== undefined && options.fd !== undefined) {
    throw new SealtrainError('ERR_USAGE_INVALID', `Give the ${n.name} with ${n.flags}, not both.`);
  }
  if (options.file !== undefined) return fromFile(options.file, n);
  if (options.fd !== undefined) return fromFd(options.fd, n);
  return fromPrompt(options, n);
}
