// `sealtrain --version` is the package's version, as the report and the lineage manifest give it,
// from the bundle that bin/sealtrain.js loads.

import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { BIN, cli } from '../helpers/cli.js';

describe('sealtrain --version', () => {
  it("prints package.json's version, from the CLI bundle", async () => {
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    const r = await cli(['--version']);
    expect(r.code, r.stderr).toBe(0);
    // Commander's own text (help, version) goes to stderr, as all human text does.
    expect(r.stderr.trim()).toBe(pkg.version);
    expect(await readFile(BIN, 'utf8')).toContain("import('../dist/bundle/cli.js')");
  });
});
