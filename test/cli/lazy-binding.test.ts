// The PKCS#11 binding's native part is loaded by what uses a PKCS#11 key, not by every command:
// a command that uses none never maps pkcs11.node (and starts sooner for it).

import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, freshHome } from '../helpers/cli.js';

let dir: string;
let probe: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealtrain-lazy-binding-'));
  // Loaded into the CLI's process with --import: on exit, says whether the binding is mapped.
  probe = join(dir, 'probe.mjs');
  await writeFile(
    probe,
    [
      "import { readFileSync } from 'node:fs';",
      "process.on('exit', () => {",
      "  const mapped = readFileSync('/proc/self/maps', 'utf8').includes('pkcs11.node');",
      "  process.stderr.write('\\nPKCS11-MAPPED ' + mapped + '\\n');",
      '});',
      '',
    ].join('\n'),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const mapped = (stderr: string) => /PKCS11-MAPPED (true|false)/.exec(stderr)?.[1];

describe('the PKCS#11 binding', () => {
  it('is not loaded by a command that uses no PKCS#11 key', async () => {
    const home = join(dir, 'home');
    const schema = await cli(['--home', home, 'config', 'schema', '--json'], {
      env: { NODE_OPTIONS: `--import=${probe}` },
    });
    expect(schema.code, schema.stderr).toBe(0);
    expect(mapped(schema.stderr)).toBe('false');
    const audit = await cli(['--home', home, 'audit', 'verify', '--json'], {
      env: { NODE_OPTIONS: `--import=${probe}` },
    });
    expect(mapped(audit.stderr), audit.stderr).toBe('false');
  });

  it('is not loaded when a command picks its key providers and seals with a local key', async () => {
    const ctx = await freshHome();
    try {
      expect((await cli([...ctx.base, 'keys', 'init', '--scrypt-cost', '1024'])).code).toBe(0);
      expect((await cli([...ctx.base, 'keys', 'create', 'a'])).code).toBe(0);
      const sealed = await cli([...ctx.base, 'seal', '-', '-o', '-', '--key', 'local:a'], {
        input: 'some data',
        env: { NODE_OPTIONS: `--import=${probe}` },
      });
      expect(sealed.code, sealed.stderr).toBe(0);
      expect(sealed.stdout.length).toBeGreaterThan(0);
      expect(mapped(sealed.stderr)).toBe('false');
    } finally {
      await ctx.cleanup();
    }
  });

  it('is loaded when a PKCS#11 key is used (the probe sees it)', async () => {
    const script = join(dir, 'uses.mjs');
    const token = new URL('../../dist/kms/internal/pkcs11-token.js', import.meta.url).href;
    await writeFile(script, `import { P } from '${token}';\nP();\n`);
    const r = spawnSync(process.execPath, [`--import=${probe}`, script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(mapped(r.stderr)).toBe('true');
  });
});
