import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('sealtrain demo', () => {
  it('runs every step, labels the TEE as simulated, and can run again in the same home', async () => {
    const home = await mkdtemp(join(tmpdir(), 'sealtrain-demo-'));
    dirs.push(home);
    for (let run = 0; run < 2; run++) {
      const r = await cli(['demo', '--home', home, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const steps = (r.json?.steps as Array<{ step: string; ok: boolean; detail: string }>) ?? [];
      expect(steps.map((s) => s.step)).toEqual([
        'keys create',
        'seal',
        'inspect',
        'rotate + rewrap',
        'unseal',
        'tamper check',
        'audit verify',
        'attest (sim)',
      ]);
      expect(steps.every((s) => s.ok)).toBe(true);
      expect(String(r.json?.tee)).toMatch(/^sim \(simulated, insecure/);
      expect(steps.at(-1)?.detail).toMatch(/SIMULATED TEE.*refuses it \(policy\.allow-sim\)/);
    }
    const human = await cli(['demo', '--home', home]);
    expect(human.code).toBe(0);
    expect(human.stderr).toMatch(/✔ attest \(sim\): SIMULATED TEE/);
  });
});
