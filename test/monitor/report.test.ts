// The run report: built from a recorded run, it re-verifies the audit logs, the sealed model and
// the checkpoints; a tampered file makes it say FAILED (and the command exit 39) while the report
// is still written. The HTML is opened in headless Chromium: sections and values are there, a
// SIMULATION banner for sim, and the page makes no network request with scripts disabled.

import { appendFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type AlertRecord,
  buildRunReport,
  REPORT_SECTIONS,
  readRecordedRun,
  renderReportHtml,
  renderReportMarkdown,
  reportCharts,
} from '../../src/monitor/index.js';
import { cli } from '../helpers/cli.js';
import { type BuiltRun, buildRun } from './recorded-run.js';

const ALERT: AlertRecord = {
  type: 'alert',
  time: '2026-11-01T10:00:03.000Z',
  rule: 'releases-denied',
  severity: 'critical',
  condition: 'releases_denied',
  message: '2 key releases denied within 10 minutes (threshold 2).',
  value: 2,
  actions: ['log', 'webhook'],
};

let built: BuiltRun | undefined;
afterEach(async () => {
  await built?.cleanup();
  built = undefined;
});

async function reportOf(b: BuiltRun) {
  const run = await readRecordedRun(b.runDir, { auditDir: b.auditDir, brokerAuditDir: b.brokerAuditDir });
  return buildRunReport(run, { now: () => new Date('2026-11-02T00:00:00.000Z') });
}

describe('buildRunReport', () => {
  it('verifies the audit logs, the model and every checkpoint, and lists releases and alerts', async () => {
    built = await buildRun({ epochs: 3, stepsPerEpoch: 4, deniedAt: [0.02, 0.03] });
    await writeFile(join(built.runDir, 'alerts.jsonl'), `${JSON.stringify(ALERT)}\n`);
    const r = await reportOf(built);
    expect(r.verified).toBe(true);
    expect(Object.fromEntries(r.checks.map((c) => [c.name, c.status]))).toEqual({
      'audit log': 'ok',
      "broker's audit log": 'ok',
      'sealed model': 'ok',
      checkpoints: 'ok',
    });
    expect(r.checkpoints.map((c) => [c.counter, c.recorded?.epoch])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    expect(r.releases.map((x) => `${x.source}:${x.outcome}`)).toEqual([
      'broker:allowed',
      'run:allowed',
      'broker:denied',
      'broker:denied',
    ]);
    expect(r.training.epochs_table.map((e) => e.epoch)).toEqual([1, 2, 3]);
    expect(r.training.epochs_table[2]?.loss).toBe(
      built.metrics.find((m) => m.type === 'epoch' && m.epoch === 3)?.loss,
    );
    expect(r.resources.peak_rss_bytes).toBe(200 * 1024 * 1024);
    expect(r.alerts).toEqual([ALERT]);
    expect(r.run.simulated).toBe(true);
    expect(r.warning).toMatch(/^SIMULATION/);
    expect(r.generated).toBe('2026-11-02T00:00:00.000Z');
  });

  it('fails the model check for a changed model.sealed, and the checkpoint check for an unrecorded checkpoint', async () => {
    built = await buildRun({ epochs: 2, stepsPerEpoch: 2 });
    const model = join(built.runDir, 'model.sealed');
    const bytes = await readFile(model);
    bytes[5] = (bytes[5] ?? 0) ^ 1;
    await writeFile(model, bytes);
    await writeFile(join(built.runDir, 'checkpoints', 'checkpoint-000009.sealed'), 'forged');
    const r = await reportOf(built);
    expect(r.verified).toBe(false);
    const byName = Object.fromEntries(r.checks.map((c) => [c.name, c]));
    expect(byName['sealed model']?.status).toBe('failed');
    expect(byName['sealed model']?.detail).toContain('the model card says');
    expect(byName.checkpoints?.status).toBe('failed');
    expect(byName.checkpoints?.detail).toContain('checkpoint-000009.sealed');
    expect(r.checkpoints.find((c) => c.counter === 9)?.recorded).toBeUndefined();
  });

  it('fails the audit check when an entry was edited, naming it', async () => {
    built = await buildRun({ epochs: 2, stepsPerEpoch: 2 });
    const log = join(built.auditDir, 'audit.jsonl');
    const text = await readFile(log, 'utf8');
    await writeFile(log, text.replace('"epoch":1', '"epoch":7'));
    const r = await reportOf(built);
    const audit = r.checks.find((c) => c.name === 'audit log');
    expect(audit?.status).toBe('failed');
    expect(audit?.detail).toMatch(/entry|seq|line/i);
    expect(audit?.reverify).toContain('sealtrain audit verify --home');
  });

  it('does not call a run verified without its audit log, even when the card and files agree', async () => {
    built = await buildRun({ epochs: 1, stepsPerEpoch: 2, finished: false });
    const r = await buildRunReport(await readRecordedRun(built.runDir));
    expect(r.run.finished).toBe(false);
    expect(r.checks.map((c) => [c.name, c.status])).toEqual([
      ['audit log', 'not-checked'],
      ['sealed model', 'not-checked'],
    ]);
    expect(r.verified).toBe(false);
    expect(renderReportMarkdown(r)).toContain('**NOT VERIFIED');
  });

  it('fails the checkpoint check for a checkpoint copied under a newer name, and for the newest one deleted', async () => {
    built = await buildRun({ epochs: 3, stepsPerEpoch: 2 });
    const cp = (n: number) => join(built?.runDir ?? '', 'checkpoints', `checkpoint-00000${n}.sealed`);
    await writeFile(cp(3), await readFile(cp(1)));
    let r = await reportOf(built);
    let check = r.checks.find((c) => c.name === 'checkpoints');
    expect(check?.status).toBe('failed');
    expect(check?.detail).toContain('checkpoint-000003.sealed');
    await rm(cp(3));
    r = await reportOf(built);
    check = r.checks.find((c) => c.name === 'checkpoints');
    expect(check?.status).toBe('failed');
    expect(check?.detail).toContain('records checkpoint 3 but the newest on disk is 2');
    expect(r.verified).toBe(false);
  });

  it('escapes values from a tampered model card and ignores non-numbers where numbers belong', async () => {
    built = await buildRun({ epochs: 1, stepsPerEpoch: 2 });
    const cardPath = join(built.runDir, 'model-card.json');
    const card = JSON.parse(await readFile(cardPath, 'utf8'));
    card.training.epochs = '<a href="https://evil.example">Every check passed</a>';
    card.data.train.rows = '<b>x</b>';
    card.metrics.train_loss = 'not a number';
    await writeFile(cardPath, JSON.stringify(card));
    await appendFile(
      join(built.runDir, 'metrics.jsonl'),
      '{"type":"epoch","epoch":9,"step":9,"loss":"oops","time":"x"}\n',
    );
    const html = renderReportHtml(await reportOf(built));
    expect(html).not.toContain('<a href');
    expect(html).not.toContain('<b>x</b>');
    expect(html).not.toContain('not a number');
  });

  it('renders Markdown with every section, and escapes what it did not write', async () => {
    built = await buildRun({ epochs: 1, stepsPerEpoch: 2 });
    await appendFile(
      join(built.runDir, 'alerts.jsonl'),
      `${JSON.stringify({ ...ALERT, rule: '<script>alert(1)</script>|x' })}\n`,
    );
    const r = await reportOf(built);
    const md = renderReportMarkdown(r);
    for (const [, title] of REPORT_SECTIONS) expect(md).toContain(`## ${title}`);
    expect(md).toContain('**SIMULATION**');
    expect(md).toContain('\\|x');
    const html = renderReportHtml(r);
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });
});

describe('the HTML report in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('shows every section and the values, a SIMULATION banner, and loads nothing', async () => {
    built = await buildRun({ epochs: 3, stepsPerEpoch: 4, deniedAt: [0.02] });
    await writeFile(join(built.runDir, 'alerts.jsonl'), `${JSON.stringify(ALERT)}\n`);
    const run = await readRecordedRun(built.runDir, {
      auditDir: built.auditDir,
      brokerAuditDir: built.brokerAuditDir,
    });
    const r = await buildRunReport(run);
    const file = join(built.root, 'report.html');
    await writeFile(file, renderReportHtml(r, await reportCharts(run)));

    // JavaScript on: the page has none, and the CSP would refuse any; nothing may load either way.
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    const page = await context.newPage();
    const requests: string[] = [];
    page.on('request', (req) => requests.push(req.url()));
    await page.goto(pathToFileURL(file).href);

    for (const [id, title] of REPORT_SECTIONS)
      expect(await page.locator(`section#${id} h2`).textContent()).toBe(title);
    expect(await page.locator('h1').textContent()).toBe('Run feedfacecafebeef');
    const banner = page.locator('.banner');
    expect(await banner.isVisible()).toBe(true);
    expect(await banner.textContent()).toMatch(/^SIMULATION/);
    expect(await page.locator('.verdict').textContent()).toContain('Every check passed');
    expect(await page.locator('#verification tbody tr').count()).toBe(4);
    expect(await page.locator('#releases .denied').count()).toBe(1);
    expect(await page.locator('#releases .allowed').count()).toBe(2);
    expect(await page.locator('#checkpoints tbody tr').count()).toBe(3);
    expect(await page.locator('#alerts tbody tr td').nth(1).textContent()).toBe('releases-denied');
    const lastEpoch = built.metrics.filter((m) => m.type === 'epoch').at(-1);
    expect(
      await page.locator('#training tbody').last().locator('tr').last().locator('td').nth(1).textContent(),
    ).toBe(lastEpoch?.loss.toFixed(4));
    expect(await page.locator('#reverify pre').textContent()).toContain('sealtrain audit verify --home');
    // The charts are inline SVG, drawn at a size, with their values for screen readers.
    for (const name of ['loss', 'accuracy', 'resources', 'releases']) {
      const svg = page.locator(`#chart-${name} svg`);
      expect((await svg.boundingBox())?.width ?? 0).toBeGreaterThan(200);
    }
    expect(await page.locator('#chart-loss [aria-label]').count()).toBeGreaterThan(12);

    const shot = await page.screenshot({ fullPage: true });
    expect(shot.subarray(1, 4).toString()).toBe('PNG');
    expect(shot.readUInt32BE(16)).toBe(1200);
    expect(shot.readUInt32BE(20)).toBeGreaterThan(900);
    await writeFile(join(built.root, 'report.png'), shot);

    // The only request is the file itself: no fonts, images, styles or scripts from anywhere.
    expect(requests).toEqual([pathToFileURL(file).href]);
    await context.close();
  }, 60_000);
});

describe('sealtrain report', () => {
  it('writes report.html, exits 0 when verified, and 39 with the report still written when a file changed', async () => {
    built = await buildRun({ epochs: 2, stepsPerEpoch: 2 });
    const home = built.root; // its audit folder is <root>/audit
    const ok = await cli([
      'report',
      built.runDir,
      '--home',
      home,
      '--broker-audit',
      built.brokerAuditDir,
      '--json',
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.json).toMatchObject({ verified: true, run_id: 'feedfacecafebeef', format: 'html' });
    expect(ok.json?.warning).toMatch(/^SIMULATION/);
    const html = await readFile(join(built.runDir, 'report.html'), 'utf8');
    expect(html).toContain('<section id="verification">');

    const model = join(built.runDir, 'model.sealed');
    await appendFile(model, 'x');
    const bad = await cli(['report', built.runDir, '--home', home, '--format', 'md']);
    expect(bad.code).toBe(39);
    expect(bad.stderr).toContain('sealed model');
    expect(await readFile(join(built.runDir, 'report.md'), 'utf8')).toContain('**At least one check FAILED');

    const json = await cli(['report', built.runDir, '--home', home, '--format', 'json', '-o', '-']);
    expect(json.code).toBe(39);
    expect(
      JSON.parse(json.stdout.toString()).checks.find((c: { name: string }) => c.name === 'sealed model')
        .status,
    ).toBe('failed');
  });

  it('refuses a folder that is not a run (37) and an unknown format (2), writing nothing', async () => {
    built = await buildRun({ epochs: 1, stepsPerEpoch: 1 });
    const notRun = await cli(['report', built.root, '--home', built.root]);
    expect(notRun.code).toBe(37);
    expect(notRun.stderr).toContain('run.json');
    const format = await cli(['report', built.runDir, '--format', 'pdf']);
    expect(format.code).toBe(2);
    expect(format.stderr).toContain('html, md or json');
  });
});
