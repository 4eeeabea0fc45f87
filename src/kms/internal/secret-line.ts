import { SealtrainError } from '../../errors/index.js';

const CR = 0x0d;
const LF = 0x0a;
const CTRL_C = 0x03;
const CTRL_D = 0x04;
const CTRL_U = 0x15;
const BACKSPACE = 0x08;
const DELETE = 0x7f;

/** A byte buffer that grows by copying and wipes what it leaves behind. */
class SecretBuffer {
  #buf = Buffer.alloc(128);
  #len = 0;

  get length(): number {
    return this.#len;
  }

  push(byte: number): void {
    if (this.#len === this.#buf.length) {
      const bigger = Buffer.alloc(this.#buf.length * 2);
      this.#buf.copy(bigger);
      this.#buf.fill(0);
      this.#buf = bigger;
    }
    this.#buf[this.#len++] = byte;
  }

  /** Drops the last UTF-8 character. */
  backspace(): void {
    while (this.#len > 0 && ((this.#buf[this.#len - 1] ?? 0) & 0xc0) === 0x80) this.#buf[--this.#len] = 0;
    if (this.#len > 0) this.#buf[--this.#len] = 0;
  }

  clear(): void {
    this.#buf.fill(0);
    this.#len = 0;
  }

  /** A copy of the content; this buffer is wiped. */
  take(): Buffer {
    const out = Buffer.from(this.#buf.subarray(0, this.#len));
    this.clear();
    return out;
  }
}

interface RawInput {
  isTTY?: boolean;
  setRawMode?: (mode: boolean) => unknown;
}

/**
 * Reads lines from a terminal without echo (raw mode, with backspace, Ctrl-U and Ctrl-C) or from
 * any other stream. Bytes after a line are kept for the next one; every buffer is wiped.
 */
export class SecretLineReader {
  readonly #input: NodeJS.ReadableStream;
  readonly #tty: boolean;
  #pending: Buffer = Buffer.alloc(0);
  #skipLf = false;
  #ended = false;

  constructor(input: NodeJS.ReadableStream) {
    this.#input = input;
    this.#tty = (input as RawInput).isTTY === true && typeof (input as RawInput).setRawMode === 'function';
  }

  /** Writes `prompt` to `output` and reads one line (without its end). The caller wipes it. */
  async line(output: NodeJS.WritableStream, prompt: string): Promise<Buffer> {
    output.write(prompt);
    const line = new SecretBuffer();
    if (this.#consume(this.#pending, line)) return this.#finish(output, line);
    if (this.#ended) return this.#finish(output, line);
    const raw = this.#input as RawInput;
    if (this.#tty) raw.setRawMode?.(true);
    try {
      await new Promise<void>((resolve, reject) => {
        const done = (error?: unknown) => {
          this.#input.off('data', onData);
          this.#input.off('end', onEnd);
          this.#input.off('error', done);
          this.#input.pause();
          if (error) reject(error);
          else resolve();
        };
        const onData = (chunk: Buffer | string) => {
          const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
          try {
            if (this.#consume(bytes, line)) done();
          } catch (error) {
            done(error);
          } finally {
            bytes.fill(0);
          }
        };
        const onEnd = () => {
          this.#ended = true;
          done();
        };
        this.#input.on('data', onData);
        this.#input.on('end', onEnd);
        this.#input.on('error', done);
        this.#input.resume();
      });
    } catch (error) {
      line.clear();
      throw error;
    } finally {
      if (this.#tty) raw.setRawMode?.(false);
    }
    return this.#finish(output, line);
  }

  /** Wipes bytes kept for a next line. */
  close(): void {
    this.#pending.fill(0);
    this.#pending = Buffer.alloc(0);
  }

  #finish(output: NodeJS.WritableStream, line: SecretBuffer): Buffer {
    if (this.#tty) output.write('\n');
    return line.take();
  }

  /** Feeds `bytes` into `line`; true once a line ended (the rest is kept in `#pending`). */
  #consume(bytes: Buffer, line: SecretBuffer): boolean {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i] ?? 0;
      if (this.#skipLf) {
        this.#skipLf = false;
        if (b === LF) continue;
      }
      if (b === CR || b === LF || (this.#tty && b === CTRL_D)) {
        this.#skipLf = b === CR;
        this.#keep(bytes.subarray(i + 1));
        return true;
      }
      if (this.#tty && b === CTRL_C) {
        line.clear();
        this.#keep(Buffer.alloc(0));
        throw new SealtrainError('ERR_KMS_PASSPHRASE_REQUIRED', 'Passphrase entry was cancelled.');
      }
      if (this.#tty && (b === BACKSPACE || b === DELETE)) line.backspace();
      else if (this.#tty && b === CTRL_U) line.clear();
      else line.push(b);
    }
    this.#keep(Buffer.alloc(0));
    return false;
  }

  #keep(rest: Buffer): void {
    const copy = Buffer.from(rest);
    this.#pending.fill(0);
    this.#pending = copy;
  }
}
