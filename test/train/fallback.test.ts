import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// A copy of the built package without build/Release: the addon cannot load there.
const root = resolve(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'sealtrain-noaddon-'));
cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'sealtrain', type: 'module' }));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(script: string) {
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, encoding: 'utf8' });
}

describe('without the native addon', () => {
  it('trains on the reference kernels and says so, once, loudly', () => {
    const r = run(`
      import { Network, Trainer, parseModelConfig, parseTrainingConfig, selectKernels } from './dist/train/index.js';
      const spec = parseModelConfig({ architecture: 'mlp', input_size: 3, hidden_size: 4, output_size: 2 });
      const t = new Trainer(Network.create(spec, 1), { training: parseTrainingConfig({ batch_size: 2 }) });
      selectKernels();
      const x = Float32Array.from([1, 2, 3, 3, 2, 1]);
      const step = t.trainStep(x, Int32Array.from([0, 1]), 2);
      console.log(JSON.stringify({ kernels: t.kernels.name, finite: Number.isFinite(step.loss) }));
    `);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ kernels: 'reference', finite: true });
    const warnings = r.stderr.match(/SealtrainWarning/g) ?? [];
    expect(warnings).toHaveLength(1);
    expect(r.stderr).toContain('about a hundred times slower');
    expect(r.stderr).toContain('sealtrain_train.node');
  });

  it('refuses with ERR_INTERNAL when the native kernels are required', () => {
    const r = run(`
      import { selectKernels } from './dist/train/index.js';
      try { selectKernels({ backend: 'native' }); console.log('loaded'); }
      catch (e) { console.log(e.code); }
    `);
    expect(r.stdout.trim()).toBe('ERR_INTERNAL');
  });
});
