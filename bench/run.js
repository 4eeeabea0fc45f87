#!/usr/bin/env node
// `npm run bench -- <name> [--json]`: runs bench/<name>.mjs against the built library.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [name, ...rest] = process.argv.slice(2);
const dir = fileURLToPath(new URL('.', import.meta.url));
const available = readdirSync(dir)
  .filter((f) => f.endsWith('.mjs'))
  .map((f) => f.slice(0, -4));
if (!name || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <name> [--json]\navailable: ${available.join(', ')}\n`);
  process.exit(2);
}
if (!existsSync(new URL('../dist/seal/index.js', import.meta.url))) {
  process.stderr.write('bench: build first (npm run build)\n');
  process.exit(2);
}
// --expose-gc: a bench may settle its process between the jobs it times (confidential does).
const r = spawnSync(process.execPath, ['--expose-gc', `${dir}/${name}.mjs`, ...rest], { stdio: 'inherit' });
process.exit(r.status ?? 1);
