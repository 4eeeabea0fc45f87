// A signal can reach the CLI between any two steps of an atomic write: its handler removes the
// pending temp files and the process exits. Whichever step it lands on, the folder must hold no
// temp file and the target must be absent, the old one or the new one, whole.
//
// The file-system calls are wrapped so the handler's work (removePendingTempFiles) runs right
// before or right after the Nth of them; what is on disk at that instant is what an exiting
// process would leave.

import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeOutputDir } from '../../src/data/internal/output-dir.js';
import { removePendingTempFiles, writeFileAtomic } from '../../src/store/index.js';

const hook = vi.hoisted(() => ({
  at: -1,
  calls: 0,
  after: false,
  seen: undefined as undefined | (() => void),
}));

class Exited extends Error {}

vi.mock('node:fs/promises', async (original) => {
  const real = await original<typeof import('node:fs/promises')>();
  const wrap =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const n = hook.calls++;
      const fire = () => {
        if (n !== hook.at) return;
        hook.at = -1;
        hook.seen?.();
        throw new Exited();
      };
      if (!hook.after) fire();
      try {
        return await fn(...args);
      } finally {
        if (hook.after) fire();
      }
    };
  return {
    ...real,
    open: wrap(real.open),
    link: wrap(real.link),
    unlink: wrap(real.unlink),
    rename: wrap(real.rename),
    mkdir: wrap(real.mkdir),
    rm: wrap(real.rm),
  };
});

let base: string;
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'sealtrain-signal-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

/**
 * Runs `write` once for each wrapped call it makes, before and after that call, with the signal
 * handler landing there; `check` sees the folder at that instant. Returns how many points were hit.
 */
async function everyPoint(
  prepare: () => Promise<string>,
  write: (dir: string) => Promise<unknown>,
  check: (dir: string) => void,
): Promise<number> {
  let points = 0;
  for (const after of [false, true]) {
    for (let at = 0; ; at++) {
      const dir = await prepare();
      let hit = false;
      let failed: { error: unknown } | undefined;
      Object.assign(hook, { at, calls: 0, after });
      hook.seen = () => {
        hit = true;
        removePendingTempFiles();
        try {
          check(dir);
        } catch (error) {
          failed = { error };
        }
      };
      // Past the signal the process would be gone: what the write does after it does not count.
      await write(dir).catch((e: unknown) => {
        if (!hit) throw e;
      });
      hook.at = -1;
      if (failed) throw failed.error;
      if (hit) points++;
      else if (at >= hook.calls) break;
    }
  }
  return points;
}

const noTemp = (dir: string) => expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);

describe('a signal during an atomic write', () => {
  let n = 0;
  const fresh = async (old?: string) => {
    const dir = join(base, `f${n++}`);
    await import('node:fs/promises').then((fs) => fs.mkdir(dir));
    if (old !== undefined) await writeFile(join(dir, 'target'), old);
    return dir;
  };
  const newBytes = 'new '.repeat(10_000);

  for (const overwrite of [false, true]) {
    it(`writeFileAtomic (${overwrite ? 'replacing a file' : 'a new file'}) leaves no temp file and a whole target`, async () => {
      const points = await everyPoint(
        () => fresh(overwrite ? 'old' : undefined),
        (dir) => writeFileAtomic(join(dir, 'target'), newBytes, { overwrite }),
        (dir) => {
          noTemp(dir);
          const names = readdirSync(dir);
          if (!names.includes('target')) expect(overwrite).toBe(false);
          else
            expect([overwrite ? 'old' : undefined, newBytes]).toContain(
              readFileSync(join(dir, 'target'), 'utf8'),
            );
        },
      );
      expect(points).toBeGreaterThanOrEqual(overwrite ? 6 : 10);
    });
  }

  it('writeOutputDir replacing a folder leaves no temp folder and the old or the new folder', async () => {
    const points = await everyPoint(
      async () => {
        const dir = await fresh();
        const fs = await import('node:fs/promises');
        await fs.mkdir(join(dir, 'out'));
        await writeFile(join(dir, 'out', 'lineage.json'), 'old');
        return dir;
      },
      (dir) =>
        writeOutputDir(join(dir, 'out'), true, async (tmp) => {
          await writeFile(join(tmp, 'lineage.json'), 'new');
          await writeFile(join(tmp, 'b.txt'), 'new');
        }),
      (dir) => {
        noTemp(dir);
        const files = readdirSync(join(dir, 'out')).sort();
        const a = readFileSync(join(dir, 'out', 'lineage.json'), 'utf8');
        if (a === 'old') expect(files).toEqual(['lineage.json']);
        else expect([a, files]).toEqual(['new', ['b.txt', 'lineage.json']]);
      },
    );
    expect(points).toBeGreaterThanOrEqual(14);
  });
});
