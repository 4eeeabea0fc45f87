import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const STEPS = [
  'broker',
  'keys create',
  'prepare + seal',
  'refused release',
  'attest + release',
  'train',
  'evaluate',
  'tamper check',
  'audit verify',
  'report',
];

describe('sealtrain demo', () => {
  it('runs the whole flow on sim, says SIMULATION, leaves no plaintext, and can run again in the same home', async () => {
    const home = await mkdtemp(join(tmpdir(), 'sealtrain-demo-'));
    dirs.push(home);
    for (let run = 0; run < 2; run++) {
      const r = await cli(['demo', '--home', home, '--json']);
      expect(r.code, r.stderr).toBe(0);
      const steps =
        (r.json?.steps as Array<{ step: string; ok: boolean; detail: string; proves: string }>) ?? [];
      expect(steps.map((s) => s.step)).toEqual(STEPS);
      expect(steps.every((s) => s.ok && s.proves.length > 0)).toBe(true);
      expect(r.json?.tee).toBe('sim');
      expect(String(r.json?.warning)).toMatch(/^SIMULATION/);
      expect((r.json?.metrics as Record<string, number> | undefined)?.test_accuracy).toBeGreaterThan(0.9);
      expect(steps.find((s) => s.step === 'refused release')?.detail).toMatch(/ERR_RELEASE_DENIED/);
    }
    const demo = join(home, 'demo');
    expect((await readdir(join(demo, 'prepared'))).filter((n) => n.endsWith('.tensor'))).toEqual([]);
    const card = JSON.parse(await readFile(join(demo, 'run', 'model-card.json'), 'utf8'));
    expect(card.attestation.simulated).toBe(true);
    const report = await readFile(join(demo, 'run', 'report.html'), 'utf8');
    expect(report).toContain('<div class="banner" role="alert">SIMULATION');
    // Self-contained: nothing to fetch, nothing to run.
    expect(report).not.toMatch(/<script|<link|<img|<iframe|\b(src|href)=|url\(/i);
    expect((await readdir(join(demo, 'run'))).sort()).toEqual(
      [
        'checkpoints',
        'metrics.jsonl',
        'model-card.json',
        'model.sealed',
        'report.html',
        'resources.jsonl',
        'run.json',
      ].sort(),
    );
    const human = await cli(['demo', '--home', home]);
    expect(human.code).toBe(0);
    expect(human.stderr.split('\n')[1]).toMatch(/^SIMULATION/);
    expect(human.stderr).toMatch(/✔ attest \+ release: SIMULATED evidence/);
  }, 120_000);
});
