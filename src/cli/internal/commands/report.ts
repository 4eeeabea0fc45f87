import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { SealtrainError } from '../../../errors/index.js';
import { packageVersion } from '../../../internal/package-root.js';
import { writeFileAtomic } from '../../../store/index.js';
import type { Output } from '../output.js';
import type { Session } from '../session.js';

type Run = (
  action: (session: Session, out: Output, ...args: string[]) => Promise<void>,
) => (...args: unknown[]) => Promise<void>;

const FORMATS = { html: 'html', md: 'md', json: 'json' } as const;

interface ReportCliOptions {
  output?: string;
  format?: string;
  brokerAudit?: string;
}

const HELP = `
Examples:
  sealtrain report runs/wdbc                                  # writes runs/wdbc/report.html
  sealtrain report runs/wdbc --broker-audit broker/audit      # with the broker's releases and denials
  sealtrain report runs/wdbc --format md -o report.md
  sealtrain report runs/wdbc --format json -o - | jq .checks

The report re-verifies, offline and without keys, what it can: the audit logs (hash chain and signed
heads; the run's is <home>/audit), the sealed model and every checkpoint against the audit log and
the model card, and the lineage manifest (signature with the home's key, file hashes). It says when
it made each check and which commands repeat them. The HTML file is self-contained: charts inline,
no scripts, nothing loaded from anywhere. Exit 0 when every check passed; 39
(ERR_MONITOR_REPORT_UNVERIFIED) when one failed or the audit log could not be checked — the report
is written either way.`;

/** `sealtrain report <run-dir>`. */
export function reportCommand(program: Command, run: Run): void {
  program
    .command('report <run-dir>')
    .description(
      'Write a self-contained run report (HTML, Markdown or JSON) that re-verifies the run offline',
    )
    .option('-o, --output <file>', 'where to write it (default: <run-dir>/report.<format>; - for stdout)')
    .option('--format <format>', 'html (default), md or json')
    .option(
      '--broker-audit <dir>',
      "the broker's audit folder (<broker state>/audit), for releases allowed and denied",
    )
    .addHelpText('after', HELP)
    .action(
      run(async (session, out, runDir = '') => {
        const o = session.opts as ReportCliOptions;
        const format = o.format ?? 'html';
        if (!Object.hasOwn(FORMATS, format))
          throw new SealtrainError('ERR_USAGE_INVALID', `--format takes html, md or json, not "${format}".`);
        const monitor = await import('../../../monitor/index.js');
        const auditDir = existsSync(join(session.auditDir, 'audit.jsonl')) ? session.auditDir : undefined;
        const recorded = await monitor.readRecordedRun(runDir, {
          ...(auditDir ? { auditDir } : {}),
          ...(o.brokerAudit ? { brokerAuditDir: o.brokerAudit } : {}),
        });
        const report = await monitor.buildRunReport(recorded, {
          home: session.home,
          toolVersion: await packageVersion(import.meta.url),
        });
        let text: string;
        if (format === 'json') text = `${JSON.stringify(report, null, 2)}\n`;
        else if (format === 'md') text = monitor.renderReportMarkdown(report);
        else text = monitor.renderReportHtml(report, await monitor.reportCharts(recorded));
        const target = o.output ?? join(runDir, `report.${format}`);
        if (target === '-') {
          if (out.json)
            throw new SealtrainError(
              'ERR_USAGE_INVALID',
              '-o - writes the report to stdout; it cannot go with --json.',
            );
          process.stdout.write(text);
        } else await writeFileAtomic(target, text, { overwrite: true });
        const failed = report.checks.filter((c) => c.status === 'failed');
        if (target !== '-')
          out.result(
            {
              report: resolve(target),
              format,
              run_id: report.run.id,
              tee: report.run.tee,
              ...(report.warning ? { warning: report.warning } : {}),
              verified: report.verified,
              checks: report.checks,
              alerts: report.alerts.length,
            },
            [
              `${report.run.simulated ? 'SIMULATION — ' : ''}Report for run ${report.run.id}: ${resolve(target)}`,
              ...report.checks.map((c) => `  ${c.status.padEnd(11)} ${c.name}: ${c.detail}`),
              report.alerts.length ? `  ${report.alerts.length} alert(s) fired during the run.` : '',
            ]
              .filter(Boolean)
              .join('\n'),
          );
        if (!report.verified)
          throw new SealtrainError(
            'ERR_MONITOR_REPORT_UNVERIFIED',
            failed.length > 0
              ? `The report was written, but ${failed.map((c) => c.name).join(', ')} did not verify: ${failed.map((c) => c.detail).join(' ')}`
              : `The report was written, but it is not verified: the audit log was not checked (${session.auditDir} holds none). Pass the --home that ran it.`,
            { details: { report: target, failed: failed.map((c) => c.name).join(',') } },
          );
      }),
    );
}
