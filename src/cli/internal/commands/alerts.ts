import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { SealtrainError } from '../../../errors/index.js';
import type { AlertRecord, AlertRules, DeliveryResult, RecordedRun } from '../../../monitor/index.js';
import type { Output } from '../output.js';
import type { Session } from '../session.js';

/** The monitor loads only when `alerts` runs. */
const monitor = () => import('../../../monitor/index.js');

type Run = (
  action: (session: Session, out: Output, ...args: string[]) => Promise<void>,
) => (...args: unknown[]) => Promise<void>;

interface AlertsCliOptions {
  audit?: string;
  brokerAudit?: string;
  failOnAlert?: boolean;
  send?: boolean;
}

/** How long `--send` waits for deliveries before giving up on them. */
const SEND_DEADLINE_MS = 60_000;

const HELP = `
Examples:
  sealtrain alerts test alerts.yaml out/run
  sealtrain alerts test rules.yaml out/run --broker-audit broker-home/audit --fail-on-alert
  sealtrain alerts test rules.yaml out/run --send          # really POST the webhooks
  sealtrain alerts test rules.yaml out/run --json

Replays the run's metrics.jsonl, resources.jsonl and audit entries (the run's log: --audit, default
<home>/audit when it exists; the broker's: --broker-audit) through the rules, and verifies those
audit logs. Nothing is written; webhooks are only sent with --send. Exit 0; ERR_MONITOR_ALERTS_FIRED
(36) with --fail-on-alert when a rule fired; ERR_MONITOR_RULES_INVALID (35) for a bad rules file;
ERR_MONITOR_RUN_INVALID (37) when the folder is not a run. docs/monitor.md describes the rules.`;

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function describe(a: AlertRecord): string {
  return `  FIRED ${a.rule} [${a.severity}] at ${a.time}: ${a.message} (${a.actions.join(', ')})`;
}

function report(
  rules: AlertRules,
  run: RecordedRun,
  fired: readonly AlertRecord[],
  deliveries: readonly DeliveryResult[] | undefined,
): string {
  const quiet = rules.rules.filter((r) => !fired.some((a) => a.rule === r.name));
  const stop = fired.find((a) => a.actions.includes('stop'));
  const posts = fired.filter((a) => a.actions.includes('webhook')).length;
  const lines = [
    `Rules ${rules.source} on run ${run.manifest.run_id} (${run.dir}): ${new Set(fired.map((a) => a.rule)).size} of ${rules.rules.length} rule(s) fired.`,
    ...fired.map(describe),
    ...quiet.map((r) => `  quiet ${r.name} (${r.condition.kind})`),
    `Audit: ${run.auditDir ?? 'no audit folder of the run (--audit)'}; broker: ${run.brokerAuditDir ?? 'not given (--broker-audit), so releases denied and attestation failures at the broker are not seen'}.`,
  ];
  if (stop) lines.push(`The run would have been stopped at ${stop.time} by rule ${stop.rule}.`);
  if (deliveries === undefined && posts > 0)
    lines.push(`Dry run: ${posts} webhook post(s) not sent; pass --send to deliver them.`);
  for (const d of deliveries ?? [])
    lines.push(
      `  webhook ${d.webhook} for ${d.tag ?? '?'}: ${d.outcome} after ${d.attempts} attempt(s)${d.error && !d.ok ? ` (${d.error})` : ''}`,
    );
  return lines.join('\n');
}

async function testRules(session: Session, out: Output, rulesPath: string, runDir: string): Promise<void> {
  const o = session.opts as AlertsCliOptions;
  const m = await monitor();
  const rules = await m.loadAlertRules(rulesPath);
  const auditDir =
    o.audit ?? ((await exists(join(session.auditDir, 'audit.jsonl'))) ? session.auditDir : undefined);
  const run = await m.readRecordedRun(runDir, {
    ...(auditDir === undefined ? {} : { auditDir }),
    ...(o.brokerAudit === undefined ? {} : { brokerAuditDir: o.brokerAudit }),
  });
  const sender = o.send ? new m.WebhookSender(rules.webhooks) : undefined;
  const deliveries: DeliveryResult[] = [];
  sender?.onResult((r) => deliveries.push(r));
  const fired = await m.evaluateRecordedRun(rules, run, {
    actor: session.actor,
    log: () => {},
    ...(sender ? { webhooks: sender } : {}),
  });
  if (sender) {
    if (sender.pending > 0) out.note(`Delivering ${sender.pending} webhook post(s)…`);
    await sender.close(SEND_DEADLINE_MS);
  }
  const text = report(rules, run, fired, sender ? deliveries : undefined);
  const names = [...new Set(fired.map((a) => a.rule))];
  if (o.failOnAlert && fired.length > 0) {
    out.note(text);
    throw new SealtrainError(
      'ERR_MONITOR_ALERTS_FIRED',
      `${names.length} alert rule(s) fired on run ${run.manifest.run_id}: ${names.join(', ')}.`,
      { details: { rules: names, alerts: fired.map((a) => `${a.rule}: ${a.message}`) } },
    );
  }
  const stop = fired.find((a) => a.actions.includes('stop'));
  out.result(
    {
      rules: rules.source,
      run: { dir: run.dir, run_id: run.manifest.run_id },
      audit_dir: run.auditDir ?? null,
      broker_audit_dir: run.brokerAuditDir ?? null,
      fired,
      quiet: rules.rules.filter((r) => !names.includes(r.name)).map((r) => r.name),
      stop: stop ? { rule: stop.rule, time: stop.time, message: stop.message } : null,
      webhooks: { sent: sender !== undefined, deliveries },
    },
    text,
  );
}

/** `sealtrain alerts test|schema`. */
export function alertsCommand(program: Command, run: Run): void {
  const alerts = program.command('alerts').description('Alert rules: test them on a recorded run');
  alerts
    .command('test <rules> <run-dir>')
    .description('Evaluate alert rules against a recorded run and list which fired')
    .option('--audit <dir>', "the run's audit folder (default: <home>/audit when it exists)")
    .option(
      '--broker-audit <dir>',
      "the key broker's audit folder, for releases denied and attestation failures",
    )
    .option('--fail-on-alert', 'exit 36 (ERR_MONITOR_ALERTS_FIRED) when any rule fired')
    .option('--send', 'deliver the webhook actions (default: a dry run that sends nothing)')
    .addHelpText('after', HELP)
    .action(
      run(async (session, out, rulesPath, runDir) => testRules(session, out, rulesPath ?? '', runDir ?? '')),
    );
  alerts
    .command('schema')
    .description('Print the alert rules JSON Schema')
    .addHelpText('after', '\nExample:\n  sealtrain alerts schema > alert-rules.schema.json')
    .action(
      run(async () => {
        process.stdout.write(`${JSON.stringify((await monitor()).alertRulesJsonSchema(), null, 2)}\n`);
      }),
    );
}
