import { isSealtrainError } from '../../errors/index.js';

/** How a command reports: one JSON object on stdout with `--json`, else text on stderr. */
export interface Output {
  readonly json: boolean;
  /** Reports success: `data` as JSON, or `text` for people. */
  result(data: Record<string, unknown>, text: string): void;
  /** A note for people (progress, hints); silent with `--json`. */
  note(text: string): void;
}

/**
 * Makes an {@link Output}. When stdout carries data (`-o -`), the JSON object goes to stderr
 * so it cannot corrupt the data stream.
 */
export function makeOutput(json: boolean, stdoutIsData = false): Output {
  const jsonStream = stdoutIsData ? process.stderr : process.stdout;
  return {
    json,
    result(data, text) {
      if (json) jsonStream.write(`${JSON.stringify({ ok: true, ...data })}\n`);
      else process.stderr.write(`${text}\n`);
    },
    note(text) {
      if (!json) process.stderr.write(`${text}\n`);
    },
  };
}

/**
 * Prints an error. With `--json`: one JSON object on stdout plus the message on stderr; when
 * stdout carries data (`stdoutIsData`), only the JSON object, on stderr, so the data stays intact.
 * Without `--json`: the message on stderr.
 */
export function reportError(error: unknown, json: boolean, stdoutIsData = false): void {
  const known = isSealtrainError(error);
  const message = known
    ? error.message
    : `Internal error: ${error instanceof Error ? error.message : String(error)}`;
  if (json) {
    const body = known ? error.toJSON() : { code: 'ERR_INTERNAL', message, details: {} };
    (stdoutIsData ? process.stderr : process.stdout).write(`${JSON.stringify({ ok: false, error: body })}\n`);
  }
  if (!(json && stdoutIsData))
    process.stderr.write(`sealtrain: ${message}${known ? ` [${error.code}]` : ''}\n`);
  if (!known && error instanceof Error && error.stack && process.env.SEALTRAIN_DEBUG)
    process.stderr.write(`${error.stack}\n`);
}

/**
 * True when the command line sends data to stdout (`-o -`, `--output -`, `--output=-`). Used
 * for errors raised before a command runs; a running command reports this itself.
 */
export function sendsDataToStdout(argv: readonly string[]): boolean {
  return argv.some(
    (a, i) => a === '--output=-' || a === '-o-' || ((a === '-o' || a === '--output') && argv[i + 1] === '-'),
  );
}
