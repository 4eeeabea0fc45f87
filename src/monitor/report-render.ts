import type { ReportCheck, RunReport } from './report.js';
import type { RecordedRun } from './run-record.js';

/** A chart to place in the report: an inline SVG (see `renderRunCharts`). */
export interface ReportChart {
  readonly name: string;
  readonly title: string;
  readonly svg: string;
}

const esc = (v: unknown): string =>
  String(v ?? '–')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');

/** A number for a table: '–' for anything that is not a finite number (a run folder is input). */
const fmt = (v: unknown, digits = 4): string =>
  typeof v !== 'number' || !Number.isFinite(v) ? '–' : Number.isInteger(v) ? String(v) : v.toFixed(digits);

const mibOf = (v: number | null) => (v === null ? '–' : `${(v / 1024 / 1024).toFixed(0)} MiB`);

const STATUS_TEXT: Record<ReportCheck['status'], string> = {
  ok: 'verified',
  failed: 'FAILED',
  'not-checked': 'not checked',
};

/** The sections every format has, in order (the HTML ids and the Markdown headings). */
export const REPORT_SECTIONS = [
  ['verification', 'Verification'],
  ['training', 'Training'],
  ['releases', 'Key releases'],
  ['attestation', 'Attestation'],
  ['resources', 'Resources'],
  ['data', 'Data and lineage'],
  ['checkpoints', 'Checkpoints and model'],
  ['alerts', 'Alerts'],
  ['config', 'Configuration'],
  ['reverify', 'How to re-verify offline'],
] as const;

function claimsOf(r: RunReport): [string, string][] {
  const a = r.attestation;
  if (!a) return [];
  const rows: [string, string][] = [];
  for (const [k, v] of Object.entries(a)) {
    if (k === 'claims' && v && typeof v === 'object')
      for (const [ck, cv] of Object.entries(v as Record<string, unknown>)) rows.push([ck, String(cv)]);
    else if (v !== undefined) rows.push([k, String(v)]);
  }
  return rows;
}

function reverifyCommands(r: RunReport): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const c of r.checks)
    if (c.reverify && !seen.has(c.reverify)) {
      seen.add(c.reverify);
      out.push(c.reverify);
    }
  out.push(`sealtrain report ${r.run.dir} --format json`);
  return out;
}

const CSS = `
:root{--ok:#1a7f37;--bad:#cf222e;--muted:#57606a;--line:#d0d7de;--bg:#f6f8fa}
*{box-sizing:border-box}body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;margin:0 auto;max-width:1080px;padding:24px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;border-bottom:1px solid var(--line);padding-bottom:4px;margin-top:32px}
.meta{color:var(--muted)}code,td.mono{font:13px ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
table{border-collapse:collapse;width:100%;margin:8px 0}th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}th{background:var(--bg)}
.banner{border:3px solid var(--bad);background:#ffebe9;color:var(--bad);font-weight:700;padding:12px 16px;margin:16px 0;font-size:17px}
.verdict{padding:10px 16px;margin:16px 0;font-weight:600;border-left:6px solid}.verdict.ok{border-color:var(--ok);background:#dafbe1}.verdict.failed{border-color:var(--bad);background:#ffebe9}
.s-ok,.s-failed,.s-not-checked{white-space:nowrap}.s-ok{color:var(--ok);font-weight:600}.s-failed{color:var(--bad);font-weight:700}.s-not-checked{color:var(--muted)}
.denied{color:var(--bad);font-weight:600}.allowed{color:var(--ok)}
.summary{display:flex;flex-wrap:wrap;gap:12px;margin:16px 0}.summary div{border:1px solid var(--line);background:var(--bg);padding:8px 14px;min-width:130px}.summary b{display:block;font-size:20px}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:16px}figure{margin:0;border:1px solid var(--line);padding:8px;overflow:auto}figcaption{color:var(--muted);font-size:13px}figure svg{display:block;max-width:100%;height:auto}
pre{background:var(--bg);padding:12px;overflow:auto}
`;

/**
 * The report as one self-contained HTML file: styles inline, charts as inline SVG, no scripts and
 * no external references (a Content-Security-Policy forbids loading anything), readable offline
 * in any browser.
 */
export function renderReportHtml(r: RunReport, charts: readonly ReportChart[] = []): string {
  const section = (id: string, title: string, body: string) =>
    `<section id="${id}"><h2>${esc(title)}</h2>\n${body}\n</section>`;
  const table = (head: readonly string[], rows: readonly (readonly string[])[], raw = false) =>
    rows.length === 0
      ? '<p class="meta">None recorded.</p>'
      : `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
          .map((row) => `<tr>${row.map((c) => `<td>${raw ? c : esc(c)}</td>`).join('')}</tr>`)
          .join('')}</tbody></table>`;
  const chart = (name: string) => {
    const c = charts.find((x) => x.name === name);
    return c
      ? `<figure id="chart-${esc(c.name)}">${c.svg}<figcaption>${esc(c.title)}</figcaption></figure>`
      : '';
  };
  const titles = Object.fromEntries(REPORT_SECTIONS) as Record<(typeof REPORT_SECTIONS)[number][0], string>;
  const body: string[] = [];
  body.push(
    section(
      'verification',
      titles.verification,
      `<div class="verdict ${r.verified ? 'ok' : 'failed'}">${esc(verdict(r))}</div>` +
        table(
          ['check', 'result', 'what was found'],
          r.checks.map((c) => [
            esc(c.name),
            `<span class="s-${c.status}">${STATUS_TEXT[c.status]}</span>`,
            esc(c.detail),
          ]),
          true,
        ),
    ),
  );
  const claims = claimsOf(r);
  body.push(
    section(
      'attestation',
      titles.attestation,
      (r.run.simulated
        ? '<p class="denied">SIMULATION: the claims below come from the simulated TEE and prove nothing about hardware.</p>'
        : '') +
        (claims.length
          ? table(['claim', 'value'], claims)
          : '<p class="meta">No attestation summary: the run has no model card yet, or ran unattested.</p>'),
    ),
  );
  body.push(
    section(
      'releases',
      titles.releases,
      chart('releases') +
        table(
          ['time', 'where', 'outcome', 'key', 'code'],
          r.releases.map((x) => [
            esc(x.time),
            esc(x.source === 'run' ? "the home's log" : "the broker's log"),
            `<span class="${x.outcome}">${x.outcome}</span>`,
            `<code>${esc(x.key)}</code>`,
            esc(x.code),
          ]),
          true,
        ),
    ),
  );
  body.push(
    section(
      'training',
      titles.training,
      `<p>${esc(fmt(r.training.epochs))} epochs, ${esc(fmt(r.training.steps))} steps${r.training.stopped_early === true ? ', stopped early' : ''}.</p>` +
        table(
          ['metric', 'value'],
          Object.entries(r.training.final_metrics).map(([k, v]) => [k, fmt(v)]),
        ) +
        `<div class="charts">${chart('loss')}${chart('accuracy')}</div>` +
        table(
          ['epoch', 'loss', 'accuracy', 'validation loss', 'validation accuracy', 'seconds'],
          r.training.epochs_table.map((e) => [
            String(e.epoch),
            fmt(e.loss),
            fmt(e.accuracy),
            fmt(e.validation_loss),
            fmt(e.validation_accuracy),
            fmt(e.seconds, 2),
          ]),
        ),
    ),
  );
  body.push(
    section(
      'resources',
      titles.resources,
      table(
        ['samples', 'peak RSS', 'peak heap', 'mean CPU', 'max event-loop delay'],
        [
          [
            String(r.resources.samples),
            mibOf(r.resources.peak_rss_bytes),
            mibOf(r.resources.peak_heap_used_bytes),
            r.resources.mean_cpu_percent === null ? '–' : `${r.resources.mean_cpu_percent} %`,
            r.resources.max_event_loop_delay_ms === null ? '–' : `${r.resources.max_event_loop_delay_ms} ms`,
          ],
        ],
      ) + chart('resources'),
    ),
  );
  body.push(
    section(
      'data',
      titles.data,
      table(
        ['split', 'rows', 'sealed', 'tensor SHA-256', 'file'],
        Object.entries(r.data).map(([k, d]) => [
          esc(k),
          esc(fmt(d.rows)),
          d.sealed ? 'yes' : '<span class="denied">no</span>',
          `<code>${esc(d.tensor_sha256)}</code>`,
          `<code>${esc(d.path)}</code>`,
        ]),
        true,
      ) +
        (r.lineage
          ? `<p>Lineage manifest <code>${esc(r.lineage.path)}</code>, SHA-256 <code>${esc(r.lineage.sha256)}</code>.</p>`
          : '<p class="meta">No lineage manifest recorded.</p>'),
    ),
  );
  body.push(
    section(
      'checkpoints',
      titles.checkpoints,
      table(
        ['counter', 'epoch', 'step', 'recorded', 'SHA-256'],
        r.checkpoints.map((c) => [
          esc(fmt(c.counter)),
          esc(fmt(c.recorded?.epoch)),
          esc(fmt(c.recorded?.step)),
          c.recorded ? esc(c.recorded.time) : '<span class="denied">not in the audit log</span>',
          `<code>${esc(c.sha256)}</code>`,
        ]),
        true,
      ) +
        (r.sealed_to
          ? `<p>Checkpoints and the model are sealed for <code>${esc(r.sealed_to)}</code>. Keys released to the run: ${
              r.keys_released.map((k) => `<code>${esc(k.uri)}/${esc(k.version)}</code>`).join(', ') || 'none'
            }.</p>`
          : ''),
    ),
  );
  body.push(
    section(
      'alerts',
      titles.alerts,
      r.alerts.length === 0
        ? '<p>No alert fired during the run.</p>'
        : table(
            ['time', 'rule', 'severity', 'what happened', 'actions'],
            r.alerts.map((a) => [a.time, a.rule, a.severity, a.message, a.actions.join(', ')]),
          ),
    ),
  );
  body.push(
    section(
      'config',
      titles.config,
      table(
        ['field', 'value'],
        [
          ['config SHA-256', r.run.config_sha256],
          ['training SHA-256', r.run.training_sha256],
          ['model', r.model ? JSON.stringify(r.model.config) : '–'],
          ['parameters', r.model ? String(r.model.parameters) : '–'],
          ['TEE', r.run.tee],
          ['tool', `${r.tool.name} ${r.tool.version}`],
        ],
      ),
    ),
  );
  body.push(
    section(
      'reverify',
      titles.reverify,
      `<p>This report states what was verified on ${esc(r.generated)}. Files can change afterwards: repeat the checks offline, without keys or network, with:</p><pre>${reverifyCommands(
        r,
      )
        .map(esc)
        .join(
          '\n',
        )}</pre><p class="meta">The audit logs are hash-chained with Ed25519-signed heads; pin the signing public key (<code>audit verify --public-key</code>) to detect a replaced key. Sealed files are checked by SHA-256 against the audit log; their contents need the released keys.</p>`,
    ),
  );
  const banner = r.run.simulated ? `<div class="banner" role="alert">${esc(r.warning)}</div>` : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sealtrain run ${esc(r.run.id)}${r.run.simulated ? ' (SIMULATION)' : ''}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>Run ${esc(r.run.id)}</h1>
<p class="meta">TEE <strong>${esc(r.run.tee)}</strong> · started ${esc(r.run.created)} · last record ${esc(r.run.ended)} · ${
    r.run.finished ? 'finished' : 'not finished'
  } · report made ${esc(r.generated)} by ${esc(r.tool.name)} ${esc(r.tool.version)}</p>
<p class="meta">Run folder <code>${esc(r.run.dir)}</code></p>
</header>
<div class="summary">${summaryTiles(r)
    .map(([k, v]) => `<div><b>${esc(v)}</b>${esc(k)}</div>`)
    .join('')}</div>
${banner}
<main>
${inSectionOrder(body).join('\n')}
</main>
</body>
</html>
`;
}

/** One sentence: verified, failed, or not verified for want of the audit log. */
export function verdict(r: RunReport): string {
  if (r.verified) return `Every check passed when this report was made (${r.generated}).`;
  if (r.checks.some((c) => c.status === 'failed'))
    return `At least one check FAILED when this report was made (${r.generated}): see below.`;
  return `NOT VERIFIED (${r.generated}): the audit log was not checked, so nothing outside the run folder vouches for it. Give the home that ran it (--home).`;
}

/** Sections in {@link REPORT_SECTIONS} order, whatever order they were built in. */
function inSectionOrder(sections: string[]): string[] {
  const rank = (html: string) => REPORT_SECTIONS.findIndex(([id]) => html.startsWith(`<section id="${id}"`));
  return [...sections].sort((a, b) => rank(a) - rank(b));
}

/** The figures a reader looks for first. */
function summaryTiles(r: RunReport): [string, string][] {
  const m = r.training.final_metrics;
  const pct = (v: number | null | undefined) =>
    v === null || v === undefined ? undefined : `${(v * 100).toFixed(1)} %`;
  const tiles: [string, string | undefined][] = [
    ['checks', `${r.checks.filter((c) => c.status === 'ok').length}/${r.checks.length} verified`],
    ['epochs', String(r.training.epochs)],
    ['test accuracy', pct(m.test_accuracy)],
    ['validation accuracy', pct(m.validation_accuracy)],
    ['keys released', String(r.keys_released.length)],
    ['releases denied', String(r.releases.filter((x) => x.outcome === 'denied').length)],
    ['alerts', String(r.alerts.length)],
  ];
  return tiles.filter((t): t is [string, string] => t[1] !== undefined);
}

/** The report as Markdown: the same sections, tables instead of charts. */
export function renderReportMarkdown(r: RunReport): string {
  const cell = (v: unknown) =>
    String(v ?? '–')
      .replaceAll('|', '\\|')
      .replaceAll('\n', ' ');
  const table = (head: readonly string[], rows: readonly (readonly unknown[])[]) =>
    rows.length === 0
      ? 'None recorded.\n'
      : `| ${head.join(' | ')} |\n| ${head.map(() => '---').join(' | ')} |\n${rows
          .map((row) => `| ${row.map(cell).join(' | ')} |`)
          .join('\n')}\n`;
  const titles = Object.fromEntries(REPORT_SECTIONS) as Record<(typeof REPORT_SECTIONS)[number][0], string>;
  const out: string[] = [];
  out.push(`# Run ${r.run.id}\n`);
  if (r.run.simulated) out.push(`> **SIMULATION** — ${r.warning}\n`);
  out.push(
    `TEE **${r.run.tee}** · started ${r.run.created} · last record ${r.run.ended} · ${r.run.finished ? 'finished' : 'not finished'} · report made ${r.generated} by ${r.tool.name} ${r.tool.version}\n`,
  );
  out.push(`## ${titles.verification}\n`);
  out.push(`${r.verified ? verdict(r) : `**${verdict(r)}**`}\n`);
  out.push(
    table(
      ['check', 'result', 'what was found'],
      r.checks.map((c) => [c.name, STATUS_TEXT[c.status], c.detail]),
    ),
  );
  out.push(`## ${titles.attestation}\n`);
  out.push(table(['claim', 'value'], claimsOf(r)));
  out.push(`## ${titles.releases}\n`);
  out.push(
    table(
      ['time', 'where', 'outcome', 'key', 'code'],
      r.releases.map((x) => [
        x.time,
        x.source === 'run' ? "the home's log" : "the broker's log",
        x.outcome,
        x.key,
        x.code,
      ]),
    ),
  );
  out.push(`## ${titles.training}\n`);
  out.push(
    `${r.training.epochs} epochs, ${r.training.steps} steps${r.training.stopped_early ? ', stopped early' : ''}.\n`,
  );
  out.push(
    table(
      ['metric', 'value'],
      Object.entries(r.training.final_metrics).map(([k, v]) => [k, fmt(v)]),
    ),
  );
  out.push(
    table(
      ['epoch', 'loss', 'accuracy', 'validation loss', 'validation accuracy', 'seconds'],
      r.training.epochs_table.map((e) => [
        e.epoch,
        fmt(e.loss),
        fmt(e.accuracy),
        fmt(e.validation_loss),
        fmt(e.validation_accuracy),
        fmt(e.seconds, 2),
      ]),
    ),
  );
  out.push(`## ${titles.resources}\n`);
  out.push(
    table(
      ['samples', 'peak RSS', 'peak heap', 'mean CPU %', 'max event-loop delay ms'],
      [
        [
          r.resources.samples,
          mibOf(r.resources.peak_rss_bytes),
          mibOf(r.resources.peak_heap_used_bytes),
          r.resources.mean_cpu_percent,
          r.resources.max_event_loop_delay_ms,
        ],
      ],
    ),
  );
  out.push(`## ${titles.data}\n`);
  out.push(
    table(
      ['split', 'rows', 'sealed', 'tensor SHA-256', 'file'],
      Object.entries(r.data).map(([k, d]) => [
        k,
        d.rows,
        d.sealed ? 'yes' : 'no',
        `\`${d.tensor_sha256}\``,
        `\`${d.path}\``,
      ]),
    ),
  );
  if (r.lineage) out.push(`Lineage manifest \`${r.lineage.path}\`, SHA-256 \`${r.lineage.sha256}\`.\n`);
  out.push(`## ${titles.checkpoints}\n`);
  out.push(
    table(
      ['counter', 'epoch', 'step', 'recorded', 'SHA-256'],
      r.checkpoints.map((c) => [
        c.counter,
        fmt(c.recorded?.epoch),
        fmt(c.recorded?.step),
        c.recorded?.time ?? 'NOT in the audit log',
        `\`${c.sha256}\``,
      ]),
    ),
  );
  out.push(`## ${titles.alerts}\n`);
  out.push(
    r.alerts.length === 0
      ? 'No alert fired during the run.\n'
      : table(
          ['time', 'rule', 'severity', 'what happened', 'actions'],
          r.alerts.map((a) => [a.time, a.rule, a.severity, a.message, a.actions.join(', ')]),
        ),
  );
  out.push(`## ${titles.config}\n`);
  out.push(
    table(
      ['field', 'value'],
      [
        ['config SHA-256', r.run.config_sha256],
        ['training SHA-256', r.run.training_sha256],
        ['model', r.model ? JSON.stringify(r.model.config) : '–'],
        ['TEE', r.run.tee],
      ],
    ),
  );
  out.push(`## ${titles.reverify}\n`);
  out.push(
    `This report states what was verified on ${r.generated}. Repeat the checks offline, without keys or network:\n\n\`\`\`sh\n${reverifyCommands(r).join('\n')}\n\`\`\`\n`,
  );
  return out.join('\n');
}

/** The charts the HTML report inlines: every chart of the run, as SVG (vega loads only now). */
export async function reportCharts(run: RecordedRun): Promise<ReportChart[]> {
  const { renderRunCharts } = await import('./charts.js');
  return (await renderRunCharts(run, { formats: ['svg'] })).map(({ name, title, svg }) => ({
    name,
    title,
    svg,
  }));
}
