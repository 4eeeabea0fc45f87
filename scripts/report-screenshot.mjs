#!/usr/bin/env node
// Makes docs/images/report.png, the README's picture of a run report: runs `sealtrain demo` in a
// temporary home, writes the demo run's report, and takes a screenshot of its top in headless
// Chromium (Debian's chromium; scripts disabled, as the report needs none).
// Usage: npm run build && node scripts/report-screenshot.mjs
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'sealtrain.js');
const home = mkdtempSync(join(tmpdir(), 'sealtrain-shot-'));
try {
  execFileSync(process.execPath, [bin, 'demo', '--home', home], { stdio: ['ignore', 'ignore', 'inherit'] });
  const demo = join(home, 'demo');
  const report = join(demo, 'run', 'report.html');
  execFileSync(
    process.execPath,
    [
      bin,
      'report',
      join(demo, 'run'),
      '--home',
      demo,
      '--broker-audit',
      join(demo, 'broker', 'audit'),
      '-o',
      report,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  const page = await (
    await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1100, height: 1500 } })
  ).newPage();
  await page.goto(pathToFileURL(report).href);
  await page.screenshot({ path: join(root, 'docs', 'images', 'report.png') });
  await browser.close();
  console.error('wrote docs/images/report.png');
} finally {
  rmSync(home, { recursive: true, force: true });
}
