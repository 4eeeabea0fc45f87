/**
 * The `sealtrain` command line: parses arguments, runs one command, and maps every error to
 * its exit code (the only place that does). `main` returns the exit code instead of exiting so
 * tests and embedders can call it.
 *
 * @module
 */
import { Command, CommanderError } from 'commander';
import { SealtrainError } from '../errors/index.js';
import { packageVersion } from '../internal/package-root.js';
import { removePendingTempFiles } from '../store/index.js';
import { EXIT_INTERRUPTED, exitCodeFor } from './exit-codes.js';
import { alertsCommand } from './internal/commands/alerts.js';
import { attestCommand } from './internal/commands/attest.js';
import { auditCommand } from './internal/commands/audit.js';
import { brokerCommand } from './internal/commands/broker.js';
import { chartsCommand } from './internal/commands/charts.js';
import { dataCommands } from './internal/commands/data.js';
import { demoCommand } from './internal/commands/demo.js';
import { keysCommand } from './internal/commands/keys.js';
import { policyCommand } from './internal/commands/policy.js';
import { reportCommand } from './internal/commands/report.js';
import { scanCommand } from './internal/commands/scan.js';
import { sealCommands } from './internal/commands/seal.js';
import { trainCommands } from './internal/commands/train.js';
import { makeOutput, type Output, reportError, sendsDataToStdout } from './internal/output.js';
import { type GlobalOptions, Session } from './internal/session.js';

export { EXIT_CODES, EXIT_INTERRUPTED, exitCodeFor } from './exit-codes.js';

function onSignal(signal: NodeJS.Signals): void {
  removePendingTempFiles();
  process.stderr.write(`sealtrain: interrupted by ${signal}; partial output removed.\n`);
  process.exit(EXIT_INTERRUPTED);
}

/** Runs the CLI with `argv` (without `node` and the script) and resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let code = 0;
  let json = argv.includes('--json');
  // Where a --json error goes: stderr when stdout carries data (`-o -`), as results do.
  let stdoutIsData = sendsDataToStdout(argv);
  // package.json's, as the report and the lineage manifest give it; read only when it is asked
  // for (help lists the option, not the number), so that no other command starts with that read.
  const version =
    argv.includes('--version') || argv.includes('-V') ? await packageVersion(import.meta.url) : '';
  const program = new Command('sealtrain')
    .version(version)
    .description('Seal datasets, manage keys and audit every use: confidential ML training on Azure.')
    .option('--home <dir>', 'state folder (keyring, audit log); default $SEALTRAIN_HOME or ~/.sealtrain')
    .option('--json', 'print one JSON object on stdout')
    .option('--passphrase-file <path>', 'read the keyring passphrase from this file')
    .option('--passphrase-fd <n>', 'read the keyring passphrase from this open file descriptor')
    .option('--actor <name>', 'who the audit log records as acting (default user@host)')
    .option(
      '--pkcs11-module <path>',
      'PKCS#11 library for pkcs11: keys, e.g. /usr/lib/softhsm/libsofthsm2.so',
    )
    .option('--pin-file <path>', 'read the PKCS#11 user PIN from this file')
    .option('--pin-fd <n>', 'read the PKCS#11 user PIN from this open file descriptor')
    .option(
      '--broker-token-file <path>',
      'azurekv: keys: the broker principal token in this file (default: Entra ID)',
    )
    .option('--broker-ca <pem>', "azurekv: keys: trust this CA certificate (the local broker's tls/ca.pem)")
    .option(
      '--storage-connection-file <path>',
      'read the Azure Storage connection string for az:// paths from this file (default: Entra ID)',
    )
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stderr.write(s), writeErr: (s) => process.stderr.write(s) });
  // A command that runs another program (exec mode) exits with that program's status.
  let exitStatus: number | undefined;
  const run =
    (
      action: (session: Session, out: Output, ...args: string[]) => Promise<unknown>,
      dataOnStdout?: (o: Record<string, unknown>) => boolean,
    ) =>
    async (...args: unknown[]): Promise<void> => {
      const cmd = args[args.length - 1] as Command;
      const opts = cmd.optsWithGlobals<GlobalOptions & Record<string, unknown>>();
      json = opts.json ?? false;
      const session = new Session(opts);
      stdoutIsData = dataOnStdout?.(opts) ?? false;
      const out = makeOutput(json, stdoutIsData);
      try {
        const status = await action(session, out, ...(args.slice(0, -2) as string[]));
        if (typeof status === 'number') exitStatus = status;
      } finally {
        await session.close();
      }
    };
  keysCommand(program, run);
  sealCommands(program, run);
  dataCommands(program, run);
  auditCommand(program, run);
  attestCommand(program, run);
  policyCommand(program, run);
  brokerCommand(program, run);
  trainCommands(program, run);
  demoCommand(program, run);
  scanCommand(program, run);
  reportCommand(program, run);
  chartsCommand(program, run);
  alertsCommand(program, run);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('SIGHUP', onSignal);
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.exitCode === 0
      )
        return 0;
      const usage = new SealtrainError('ERR_USAGE_INVALID', error.message.replace(/^error: /, ''), {
        cause: error,
      });
      if (json) reportError(usage, true, stdoutIsData);
      return exitCodeFor(usage);
    }
    reportError(error, json, stdoutIsData);
    code = exitCodeFor(error);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
  }
  return exitStatus ?? code;
}
