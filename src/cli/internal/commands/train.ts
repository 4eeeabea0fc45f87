import type { Command } from 'commander';
import { SealtrainError } from '../../../errors/index.js';
import type { KeyAccessSoon, RunConfig } from '../../../run/index.js';
import type { Output } from '../output.js';
import { readSmallFile } from '../read-small-file.js';
import type { Session } from '../session.js';

type Run = (
  action: (session: Session, out: Output, ...args: string[]) => Promise<unknown>,
) => (...args: unknown[]) => Promise<void>;

/** The run capability (broker client, engine, data readers) loads when a run command runs. */
const runModule = () => import('../../../run/index.js');

/** Configs, tokens and CA certificates are small: a larger file is a wrong path, not input. */
const readSmall = (path: string, what: string) =>
  readSmallFile(path, what, { maxBytes: 1 << 20, code: 'ERR_USAGE_INVALID' });

/** Reads and validates `--config`. */
export async function loadRunConfig(path: string | undefined): Promise<RunConfig> {
  if (!path) throw new SealtrainError('ERR_USAGE_INVALID', 'Name the run config with --config <file>.');
  const text = await readSmall(path, 'run config');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new SealtrainError(
      'ERR_TRAIN_CONFIG_INVALID',
      `The run config ${path} is not valid JSON: ${(cause as Error).message}.`,
      {
        cause,
        details: { path },
      },
    );
  }
  // A config that attests (the default) starts the attestation's ephemeral key now: making it is
  // the slowest step of the release, and loading the run module takes about as long.
  const security = (value as { security?: { attestation?: unknown; maa?: unknown } } | null)?.security;
  // Through MAA on an Azure CVM the key is made in the vTPM instead.
  if (security?.attestation !== false) {
    const { prepareRuntimeKey } = await import('../../../broker/client/runtime-key.js');
    if (!security?.maa) prepareRuntimeKey('ec');
    else if (!(await (await import('../../../broker/client/attested-release.js')).keyInVtpm()))
      prepareRuntimeKey('rsa');
  }
  return (await runModule()).parseRunConfig(value, path);
}

/**
 * The broker credential: the workload token file, else Entra ID (managed identity in Azure). The
 * global `--broker-token-file` and `--broker-ca` win over `security.broker.token_file` and `.ca`;
 * the vault itself comes only from the config.
 */
async function brokerAccess(session: Session, config: RunConfig) {
  const b = config.security.broker;
  const caFile = session.opts.brokerCa ?? b?.ca;
  const caWhat = session.opts.brokerCa !== undefined ? '--broker-ca' : 'security.broker.ca';
  const ca = caFile !== undefined ? await readSmall(caFile, `broker CA certificate (${caWhat})`) : undefined;
  const tokenFile = session.opts.brokerTokenFile ?? b?.token_file;
  const m = config.security.maa;
  const maaCa =
    m?.ca !== undefined ? await readSmall(m.ca, 'MAA CA certificate (security.maa.ca)') : undefined;
  const maa = m && { url: m.url, ...(maaCa ? { ca: maaCa } : {}) };
  const where = { ...(ca ? { ca } : {}), ...(b?.url ? { url: b.url } : {}), ...(maa ? { maa } : {}) };
  if (tokenFile !== undefined) {
    const what =
      session.opts.brokerTokenFile !== undefined ? '--broker-token-file' : 'security.broker.token_file';
    const token = (await readSmall(tokenFile, `broker token file (${what})`)).trim();
    const credential = { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }) };
    return { credential, ...where };
  }
  const { DefaultAzureCredential } = await import('@azure/identity');
  return { credential: new DefaultAzureCredential(), ...where };
}

/** {@link keysFor}'s answer: the keys, soon; `opened` resolves once the attestation is under way. */
export type KeysSoon = KeyAccessSoon & { readonly opened: Promise<void> };

/**
 * Opens the keys a run needs, printing the SIMULATION warning when the TEE is simulated. The
 * answer's `inputProviders` resolve once the input keys are released (see `openKeyAccess`);
 * `opened` once `openKeyAccess` was called with what it needs (key files read, the attestation's
 * first requests sent): a run starts reading its large inputs then, so that these small reads do
 * not queue behind them.
 */
export function keysFor(
  session: Session,
  out: Output,
  config: RunConfig,
  inputs: readonly string[],
  releaseOutputKey = false,
): KeysSoon {
  const sim = config.security.tee === 'sim';
  if (sim)
    out.note(
      'SIMULATION: security.tee is sim — the simulated TEE gives no hardware protection (INSECURE, development only).',
    );
  const needsBroker =
    config.security.key.startsWith('azurekv:') || config.security.attestation || releaseOutputKey;
  // Wrapped in an object: an async function would flatten the answer into a bare promise.
  const started = (async () => {
    const { openKeyAccess } = await runModule();
    const { loadOrCreateSimKey } = await import('../../../attest/sim/load-or-create-sim-key.js');
    // Read side by side: each is a small file.
    const [simKey, broker, localProviders, audit] = await Promise.all([
      sim ? loadOrCreateSimKey(session.home) : undefined,
      needsBroker ? brokerAccess(session, config) : undefined,
      session.providers(),
      session.auditContext(),
    ]);
    return {
      soon: openKeyAccess({
        inputs,
        outputKey: config.security.key,
        releaseOutputKey,
        attestation: config.security.attestation,
        ...(simKey ? { sim: { privateKey: simKey.privateKey } } : {}),
        ...(broker ? { broker } : {}),
        localProviders,
        audit,
      }),
    };
  })();
  const inputProviders = started.then((s) => s.soon.inputProviders);
  inputProviders.catch(() => {}); // the answer itself carries the error
  const opened = started.then(
    () => {},
    () => {}, // the answer itself carries the error
  );
  return Object.assign(
    started.then((s) => s.soon),
    { inputProviders, opened },
  );
}

const TRAIN_HELP = `
Examples:
  sealtrain config schema > run-config.schema.json
  sealtrain train --config train.json
  sealtrain train --config train.json --resume               # after a crash or kill: bit-identical
  sealtrain train --config train.json --metrics-port 9464    # Prometheus scrapes :9464/metrics
  sealtrain train --config train.json --alerts alerts.yaml   # log, webhook or stop on NaN loss, memory…
  sealtrain train --config train.json --exec -- python3 train.py --data {data} --out {output}

The config (docs/run.md) has the seed's model, training and security sections plus data and
output. The run proves its TEE to the broker, gets the keys of every sealed input released into
memory, decrypts there, trains, writes metrics.jsonl, seals checkpoints and the model for
security.key, and writes model-card.json into output.dir, with resources.jsonl (CPU, memory,
event-loop delay every second) beside metrics.jsonl. security.tee "sim" is the simulated TEE:
INSECURE, development only; the key's release policy and the broker must both allow it.`;

interface TrainCliOptions {
  config?: string;
  resume?: boolean;
  allowRollback?: boolean;
  force?: boolean;
  exec?: boolean;
  metricsPort?: string;
  alerts?: string;
}

/** `--metrics-port`: 0 (any free port) to 65535. */
function parsePort(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535)
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `--metrics-port takes a port from 0 to 65535, not "${text}".`,
    );
  return n;
}

/** `sealtrain train`, `evaluate`, `predict` and `config schema`. */
export function trainCommands(program: Command, run: Run): void {
  program
    .command('train [command...]')
    .description(
      'Train inside the TEE: attested key release, decryption in memory, sealed checkpoints and model',
    )
    .option('-c, --config <file>', 'the run config (JSON; see `sealtrain config schema`)')
    .option('--resume', 'continue the run in output.dir from its newest checkpoint')
    .option('--allow-rollback', 'resume even from a checkpoint older than the newest recorded (audited)')
    .option('-f, --force', 'replace an earlier run in output.dir')
    .option('--exec', 'run another program on the decrypted inputs instead: --exec -- <command…>')
    .option(
      '--metrics-port <port>',
      'serve Prometheus metrics on 127.0.0.1:<port>/metrics (0: any free port)',
    )
    .option(
      '--alerts <rules>',
      'alert rules (YAML or JSON, see `sealtrain alerts schema`) watched during the run',
    )
    .addHelpText('after', TRAIN_HELP)
    .action(
      run(async (session, out, ...rest) => {
        const command = (rest[0] as unknown as string[] | undefined) ?? [];
        const o = session.opts as TrainCliOptions;
        const config = await loadRunConfig(o.config);
        const { trainWithConfig, execWithConfig } = await import('./train-run.js');
        if (o.exec) {
          if (o.alerts !== undefined || o.metricsPort !== undefined)
            throw new SealtrainError(
              'ERR_USAGE_INVALID',
              `${o.alerts !== undefined ? '--alerts' : '--metrics-port'} watches sealtrain's own training; with --exec the command trains, so it cannot be used there.`,
            );
          return execWithConfig(session, out, config, command);
        }
        if (command.length > 0)
          throw new SealtrainError(
            'ERR_USAGE_INVALID',
            `Unexpected arguments ${command.join(' ')}: a command to run needs --exec --.`,
          );
        return trainWithConfig(session, out, config, {
          resume: o.resume === true,
          allowRollback: o.allowRollback === true,
          force: o.force === true,
          metricsPort: parsePort(o.metricsPort),
          alerts: o.alerts,
        });
      }),
    );
  useModelCommands(program, run);
  program
    .command('config')
    .description('Run config tools')
    .command('schema')
    .description('Print the run config JSON Schema')
    .addHelpText('after', '\nExample:\n  sealtrain config schema > run-config.schema.json')
    .action(
      run(async () => {
        process.stdout.write(`${JSON.stringify((await runModule()).runConfigJsonSchema(), null, 2)}\n`);
      }),
    );
}

function useModelCommands(program: Command, run: Run): void {
  program
    .command('evaluate')
    .description('Evaluate the sealed model on a split, inside the TEE, without writing it in the clear')
    .option('-c, --config <file>', 'the run config')
    .option('--model <file>', 'the sealed model (default: output.dir/model.sealed)')
    .option('--split <name>', 'train, validation or test (default test)')
    .addHelpText('after', '\nExample:\n  sealtrain evaluate --config train.json --split test --json')
    .action(
      run(async (session, out) => {
        const o = session.opts as { config?: string; model?: string; split?: string };
        const { evaluateWithConfig } = await import('./train-run.js');
        await evaluateWithConfig(session, out, await loadRunConfig(o.config), o);
      }),
    );
  program
    .command('predict')
    .description('Predict with the sealed model inside the TEE; prints one JSON line per row')
    .option('-c, --config <file>', 'the run config')
    .option('--model <file>', 'the sealed model (default: output.dir/model.sealed)')
    .requiredOption('--input <file>', 'a tensor file (sealed or not) of feature rows, as prepare writes')
    .option('--limit <n>', 'predict the first n rows only')
    .addHelpText(
      'after',
      '\nExample:\n  sealtrain predict --config train.json --input prepared/test.tensor.sealed --limit 5',
    )
    .action(
      run(async (session, out) => {
        const o = session.opts as { config?: string; model?: string; input?: string; limit?: string };
        const { predictWithConfig } = await import('./train-run.js');
        await predictWithConfig(session, out, await loadRunConfig(o.config), o);
      }),
    );
}
