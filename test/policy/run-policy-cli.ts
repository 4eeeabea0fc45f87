import { Command, CommanderError } from 'commander';
import { vi } from 'vitest';
import { exitCodeFor } from '../../src/cli/exit-codes.js';
import { policyCommand } from '../../src/cli/internal/commands/policy.js';
import { makeOutput, reportError } from '../../src/cli/internal/output.js';
import { type GlobalOptions, Session } from '../../src/cli/internal/session.js';

/** What one in-process run of `sealtrain policy …` printed and returned. */
export interface PolicyCliResult {
  code: number;
  stdout: string;
  stderr: string;
  json: Record<string, unknown> | undefined;
}

/**
 * Runs `sealtrain <args>` with only the policy command registered, in this process, the way
 * `src/cli/index.ts` runs commands (same Session, Output, error report and exit-code table).
 * Used until `policyCommand` is registered in `src/cli/index.ts`; after that `test/helpers/cli.ts`
 * can run the built binary instead.
 */
export async function runPolicyCli(args: string[]): Promise<PolicyCliResult> {
  let stdout = '';
  let stderr = '';
  const outSpy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const errSpy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  const json = args.includes('--json');
  let code = 0;
  try {
    const program = new Command('sealtrain')
      .option('--home <dir>')
      .option('--json')
      .exitOverride()
      .configureOutput({
        writeOut: (s) => process.stderr.write(s),
        writeErr: (s) => process.stderr.write(s),
      });
    const run =
      (
        action: (session: Session, out: ReturnType<typeof makeOutput>, ...a: string[]) => Promise<void>,
        dataOnStdout?: (o: Record<string, unknown>) => boolean,
      ) =>
      async (...a: unknown[]): Promise<void> => {
        const cmd = a[a.length - 1] as Command;
        const opts = cmd.optsWithGlobals<GlobalOptions & Record<string, unknown>>();
        const session = new Session(opts);
        const out = makeOutput(opts.json ?? false, dataOnStdout?.(opts) ?? false);
        try {
          await action(session, out, ...(a.slice(0, -2) as string[]));
        } finally {
          await session.close();
        }
      };
    policyCommand(program, run);
    await program.parseAsync(args, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) code = error.exitCode === 0 ? 0 : 2;
    else {
      reportError(error, json);
      code = exitCodeFor(error);
    }
  } finally {
    outSpy.mockRestore();
    errSpy.mockRestore();
  }
  let parsed: Record<string, unknown> | undefined;
  try {
    parsed = JSON.parse(stdout) as Record<string, unknown>;
  } catch {}
  return { code, stdout, stderr, json: parsed };
}
