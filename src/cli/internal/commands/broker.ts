import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { BrokerStore, PrincipalInfo, startBroker } from '../../../broker/index.js';
import { SealtrainError } from '../../../errors/index.js';
import { readPassphrase } from '../../../kms/index.js';
import type { Output } from '../output.js';
import type { Session } from '../session.js';
import { simKeyOf } from './attest.js';

type Run = (
  action: (session: Session, out: Output, ...args: string[]) => Promise<void>,
) => (...args: unknown[]) => Promise<void>;

interface BrokerCliOptions {
  readonly state?: string;
  readonly port?: string;
  readonly host?: string;
  readonly allowSimulated?: boolean;
  readonly simKey?: string;
  readonly scryptCost?: string;
  readonly role?: string;
  readonly ttlDays?: string;
  readonly alerts?: string;
}

/** The broker (TLS, metrics, the Azure wire format) loads only when a broker command runs. */
const brokerModule = () => import('../../../broker/index.js');

const opts = (session: Session) => session.opts as BrokerCliOptions & Session['opts'];

function stateDirOf(session: Session): string {
  return resolve(opts(session).state ?? join(session.home, 'broker'));
}

function integer(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `${flag} must be an integer from ${min} to ${max}, not "${value}".`,
    );
  return n;
}

/** The broker passphrase from --passphrase-file, --passphrase-fd or the terminal (asked twice for a new state). */
async function passphraseOf(session: Session, stateDir: string): Promise<Buffer> {
  const o = opts(session);
  const exists = await stat(join(stateDir, (await brokerModule()).STATE_FILE)).then(
    () => true,
    () => false,
  );
  const fd = integer(o.passphraseFd, '--passphrase-fd', 0, 2 ** 31 - 1);
  return readPassphrase({
    ...(o.passphraseFile === undefined ? {} : { file: o.passphraseFile }),
    ...(fd === undefined ? {} : { fd }),
    prompt: `Passphrase for the broker state in ${stateDir}: `,
    confirm: !exists,
  });
}

async function withStore<T>(session: Session, fn: (store: BrokerStore) => Promise<T>): Promise<T> {
  const stateDir = stateDirOf(session);
  const pass = await passphraseOf(session, stateDir);
  let store: BrokerStore;
  try {
    store = await (await brokerModule()).BrokerStore.open(stateDir, pass, { mustExist: true });
  } finally {
    pass.fill(0);
  }
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}

/** Resolves on the first SIGINT or SIGTERM; the CLI's own exit-on-signal handlers wait meanwhile. */
function untilSignal(): Promise<NodeJS.Signals> {
  const saved = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  return new Promise((done) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      for (const l of saved.SIGINT) process.on('SIGINT', l as NodeJS.SignalsListener);
      for (const l of saved.SIGTERM) process.on('SIGTERM', l as NodeJS.SignalsListener);
      done(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

async function runBroker(session: Session, out: Output): Promise<void> {
  const o = opts(session);
  const stateDir = stateDirOf(session);
  const simPublicKey = await simKeyOf(session, o.simKey === undefined ? {} : { simKey: o.simKey });
  const port = integer(o.port, '--port', 0, 65535) ?? 8443;
  const scryptCost = integer(o.scryptCost, '--scrypt-cost', 1024, 2 ** 20);
  // A bad rules file or webhook secret fails before the state is opened.
  const monitor = o.alerts === undefined ? undefined : await import('../../../monitor/index.js');
  const rules = monitor && o.alerts !== undefined ? await monitor.loadAlertRules(o.alerts) : undefined;
  let engine: import('../../../monitor/index.js').AlertEngine | undefined;
  const pass = await passphraseOf(session, stateDir);
  let broker: Awaited<ReturnType<typeof startBroker>>;
  try {
    broker = await (await brokerModule()).startBroker({
      stateDir,
      passphrase: pass,
      host: o.host ?? '127.0.0.1',
      port,
      allowSimulated: o.allowSimulated ?? false,
      ...(simPublicKey ? { simPublicKey } : {}),
      ...(scryptCost === undefined ? {} : { scryptCost }),
      log: (line) => out.note(line),
      ...(rules
        ? { onAudit: (event, time) => engine?.observeAudit({ ...event, time: time.toISOString() }) }
        : {}),
    });
  } finally {
    pass.fill(0);
  }
  if (monitor && rules) {
    engine = new monitor.AlertEngine(rules, {
      actor: 'broker',
      sink: broker.audit,
      alertsPath: join(stateDir, 'alerts.jsonl'),
      ...(rules.webhooks.length > 0 ? { webhooks: new monitor.WebhookSender(rules.webhooks) } : {}),
      // Alert lines are for the operator: on stderr even with --json.
      log: (line) => process.stderr.write(`${line}\n`),
    });
    out.note(
      `Alert rules: ${rules.rules.length} from ${o.alerts}, on every audited request; alerts go to ${join(stateDir, 'alerts.jsonl')} and the broker's audit log.${rules.rules.some((r) => r.actions.some((a) => a.kind === 'stop')) ? ' A stop action stops training runs only: the broker keeps serving.' : ''}`,
    );
  }
  if (o.allowSimulated)
    out.note(
      'WARNING: --allow-simulated: keys whose policy admits `sim` are released to SIMULATED evidence.',
    );
  out.note('Press Ctrl-C to stop.');
  if (out.json) process.stdout.write(`${JSON.stringify({ ok: true, url: broker.url, ca: broker.caPath })}\n`);
  const signal = await untilSignal();
  await engine?.close();
  await broker.close();
  out.note(`Stopped on ${signal}.`);
}

function principalRow(p: PrincipalInfo): string {
  return `${p.name.padEnd(24)} ${p.role.padEnd(9)} ${p.status.padEnd(8)} expires ${p.expires}`;
}

function principalCommands(broker: Command, run: Run): void {
  const principal = broker.command('principal').description('Manage who may call the broker');
  principal
    .command('add <name>')
    .description('Add a principal and print its bearer token (shown once; only its hash is stored)')
    .requiredOption('--role <role>', 'owner (manage keys, wrap, unwrap) or workload (attest, release)')
    .option('--ttl-days <n>', 'token lifetime in days (1 to 365; default 30)')
    .addHelpText(
      'after',
      '\nExample:\n  sealtrain broker principal add trainer --role workload --passphrase-file pass.txt',
    )
    .action(
      run(async (session, out, name = '') => {
        const o = opts(session);
        const days = integer(o.ttlDays, '--ttl-days', 1, 365) ?? 30;
        const role = o.role === 'owner' || o.role === 'workload' ? o.role : undefined;
        if (!role)
          throw new SealtrainError('ERR_USAGE_INVALID', `--role must be owner or workload, not "${o.role}".`);
        const added = await withStore(session, async (store) =>
          (await brokerModule()).addPrincipal(store, { name, role }, { ttlSeconds: days * 86_400 }),
        );
        const audit = await session.audit();
        await audit.record({
          actor: session.actor,
          action: 'broker.principal.add',
          outcome: 'ok',
          details: { name, role },
        });
        if (!out.json) process.stdout.write(`${added.token}\n`);
        out.result(
          { principal: added.principal, token: added.token },
          `Added ${role} "${name}", expires ${added.principal.expires}. Its token is above: store it now, it is not shown again.`,
        );
      }),
    );
  principal
    .command('list')
    .description('List principals with their role and status')
    .action(
      run(async (session, out) => {
        const list = await withStore(session, async (store) => (await brokerModule()).listPrincipals(store));
        out.result(
          { principals: list },
          list.length ? list.map(principalRow).join('\n') : 'No principals yet.',
        );
      }),
    );
  principal
    .command('revoke <name>')
    .description('Revoke a principal: its token stops working at once')
    .action(
      run(async (session, out, name = '') => {
        const p = await withStore(session, async (store) =>
          (await brokerModule()).revokePrincipal(store, name),
        );
        const audit = await session.audit();
        await audit.record({
          actor: session.actor,
          action: 'broker.principal.revoke',
          outcome: 'ok',
          details: { name },
        });
        out.result({ principal: p }, `Revoked "${name}".`);
      }),
    );
}

/** `sealtrain broker` (run the key broker until Ctrl-C) and `sealtrain broker principal add|list|revoke`. */
export function brokerCommand(program: Command, run: Run): void {
  const broker = program
    .command('broker')
    .description('Run the key broker: the Azure Key Vault keys API and attestation over HTTPS, until Ctrl-C')
    .option('--state <dir>', 'broker state folder (default <home>/broker)')
    .option('--port <n>', 'port to listen on (default 8443; 0 picks a free one)')
    .option('--host <addr>', 'address to listen on (default 127.0.0.1)')
    .option(
      '--allow-simulated',
      'accept sim evidence and release to it where a key policy allows sim (never in production)',
    )
    .option('--sim-key <file>', 'public key of the sim attester (default: the one under --home)')
    .option('--scrypt-cost <n>', 'scrypt cost N for a new state, a power of two (for tests; default 131072)')
    .option(
      '--alerts <rules>',
      'alert rules (YAML or JSON) evaluated on every audited request: releases denied, attestation failures',
    )
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  sealtrain broker --passphrase-file pass.txt',
        '  sealtrain broker --passphrase-file pass.txt --alerts alerts.yaml   # webhook on denied releases',
        '  sealtrain broker principal add alice --role owner --passphrase-file pass.txt',
        '  NODE_EXTRA_CA_CERTS=~/.sealtrain/broker/tls/ca.pem node client.js',
      ].join('\n'),
    )
    .action(run(runBroker));
  principalCommands(broker, run);
}
