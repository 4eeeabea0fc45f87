import { mkdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { fromFsError, SealtrainError } from '../../../errors/index.js';
import type { ChartFormat } from '../../../monitor/index.js';
import { assertAbsent, writeFileAtomic } from '../../../store/index.js';
import type { Output } from '../output.js';
import type { Session } from '../session.js';

/** Vega and the rasteriser load only when `charts` runs. */
const monitor = () => import('../../../monitor/index.js');

type Run = (
  action: (session: Session, out: Output, ...args: string[]) => Promise<void>,
) => (...args: unknown[]) => Promise<void>;

interface ChartsCliOptions {
  output?: string;
  format?: string;
  width?: string;
  brokerAudit?: string;
  force?: boolean;
}

const FORMATS: Record<string, readonly ChartFormat[]> = { svg: ['svg'], png: ['png'], both: ['svg', 'png'] };

const HELP = `
Examples:
  sealtrain charts runs/mnist -o runs/mnist/charts
  sealtrain charts runs/mnist -o charts --format png --width 1200 --broker-audit broker/audit

Writes loss, accuracy, resources and releases charts (.svg and .png) into the output folder.
Key releases come from the broker's audit log when --broker-audit is given, else from the
run's own entries in <home>/audit. A chart the run recorded nothing for says "No data
recorded". PNG text is drawn with DejaVu Sans (Debian: fonts-dejavu-core). Exit codes:
ERR_MONITOR_RUN_INVALID (37) when the folder is not a run; ERR_MONITOR_RENDER_FAILED (38)
when a chart cannot be drawn; ERR_IO_EXISTS (11) when a chart file exists (use --force).`;

function options(o: ChartsCliOptions): { formats: readonly ChartFormat[]; width: number | undefined } {
  const formats = FORMATS[o.format ?? 'both'];
  if (formats === undefined)
    throw new SealtrainError('ERR_USAGE_INVALID', `--format takes svg, png or both; not "${o.format}".`);
  if (o.output === '-')
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      '-o takes a folder: charts are several files, not one stream.',
    );
  const width = o.width === undefined ? undefined : Number(o.width);
  if (width !== undefined && (!Number.isInteger(width) || width < 1 || width > 16384))
    throw new SealtrainError(
      'ERR_USAGE_INVALID',
      `--width must be a whole number of pixels from 1 to 16384, not "${o.width}".`,
    );
  return { formats, width };
}

/** `<home>/audit` when it is there: the run's key releases, checkpoints and model. */
async function homeAudit(session: Session): Promise<string | undefined> {
  try {
    return (await stat(session.auditDir)).isDirectory() ? session.auditDir : undefined;
  } catch {
    return undefined;
  }
}

async function drawCharts(session: Session, out: Output, runDir: string): Promise<void> {
  const o = session.opts as ChartsCliOptions;
  const { formats, width } = options(o);
  const m = await monitor();
  const auditDir = await homeAudit(session);
  const run = await m.readRecordedRun(resolve(runDir), {
    ...(auditDir ? { auditDir } : {}),
    ...(o.brokerAudit ? { brokerAuditDir: resolve(o.brokerAudit) } : {}),
  });
  const dir = resolve(o.output ?? '');
  const files: Array<{ path: string; data: string | Buffer }> = [];
  const charts: Array<{ name: string; svg: string | null; png: string | null }> = [];
  for (const spec of m.chartSpecs(run)) {
    const svg = await m.renderChartSvg(spec);
    const entry = { name: spec.name, svg: null as string | null, png: null as string | null };
    if (formats.includes('svg')) {
      entry.svg = join(dir, `${spec.name}.svg`);
      files.push({ path: entry.svg, data: svg });
    }
    if (formats.includes('png')) {
      entry.png = join(dir, `${spec.name}.png`);
      files.push({
        path: entry.png,
        data: m.renderChartPng(svg, { name: spec.name, ...(width ? { width } : {}) }),
      });
    }
    charts.push(entry);
  }
  // Everything is drawn before anything is written: a failure leaves the folder as it was.
  await mkdir(dir, { recursive: true }).catch((e: unknown) => {
    throw fromFsError(e, 'create the output folder', dir);
  });
  if (!o.force) for (const f of files) await assertAbsent(f.path);
  for (const f of files) await writeFileAtomic(f.path, f.data, { overwrite: o.force ?? false });
  out.result(
    { run: run.manifest.run_id, output: dir, charts },
    `Wrote ${files.length} chart files for run ${run.manifest.run_id} to ${dir}:\n${files.map((f) => `  ${f.path}`).join('\n')}`,
  );
}

/** `sealtrain charts <run-dir> -o <dir>`. */
export function chartsCommand(program: Command, run: Run): void {
  program
    .command('charts <run-dir>')
    .description("Draw a run's loss, accuracy, resource use and key releases as SVG and PNG charts")
    .requiredOption('-o, --output <dir>', 'folder to write the charts to (made if missing)')
    .option('--format <format>', 'svg, png or both (default both)')
    .option('--width <px>', 'PNG width in pixels (default: the SVG width)')
    .option('--broker-audit <dir>', "the key broker's audit folder: releases allowed and denied")
    .option('-f, --force', 'replace existing chart files')
    .addHelpText('after', HELP)
    .action(run(async (session, out, runDir) => drawCharts(session, out, runDir)));
}
