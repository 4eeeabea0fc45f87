#!/usr/bin/env node
// Rewrites the rule table of docs/scan.md (between the rules:start and rules:end markers) from
// the rule table in the code: `npm run build && node scripts/scan-doc.mjs`. test/iac/output.test.ts
// fails when the two differ.
import { readFileSync, writeFileSync } from 'node:fs';
import { rulesMarkdown } from '../dist/iac/index.js';

const path = new URL('../docs/scan.md', import.meta.url);
const doc = readFileSync(path, 'utf8');
const start = '<!-- rules:start -->';
const end = '<!-- rules:end -->';
const [before, rest] = doc.split(start);
const after = rest?.split(end)[1];
if (before === undefined || after === undefined) {
  process.stderr.write(`docs/scan.md needs the ${start} and ${end} markers\n`);
  process.exit(1);
}
writeFileSync(path, `${before}${start}\n\n${rulesMarkdown()}\n\n${end}${after}`);
