// The stall watch on a run of its own: a test file whose thread blocks in a futex wait for ten
// minutes (vitest's 1 s test timeout never runs) must fail within seconds, named, with its
// threads' states and its process killed, and the next file must still run.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const VITEST = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url));
const CONFIG = fileURLToPath(new URL('./fixtures/stall/vitest.config.ts', import.meta.url));

function runStallFixture(): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [VITEST, 'run', '--config', CONFIG], {
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // a group of its own, ended whole below if the watch does not end the file
    });
    // Never `kill(0)` (this test's own process group) when the spawn failed and has no pid.
    const kill = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 50_000);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('error', (error) => {
      clearTimeout(kill);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(kill);
      resolve({ code, out });
    });
  });
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

it('fails a test file whose thread never returns, says where it stuck, kills it, and runs the next file', async () => {
  const { code, out } = await runStallFixture();
  expect(code).toBe(1);
  expect(out).toMatch(/\[stall-watch\] No test or hook has started or ended for \d+ s; still running:/);
  expect(out).toContain('a-blocks.stall.ts');
  expect(out).toContain('finished: passes before the one that blocks');
  // The stuck fork's main thread, asleep in the kernel.
  const fork = /^ {2}(\d+) \(parent \d+\): .*workers\/forks/m.exec(out);
  expect(fork, out).not.toBeNull();
  const pid = Number(fork?.[1]);
  expect(out).toMatch(new RegExp(`^ {4}${pid} \\S+ state=S wchan=\\S+ syscall=\\S+$`, 'm'));
  expect(out).toContain(`[stall-watch] Stacks of ${pid}:`);
  expect(alive(pid)).toBe(false);
  expect(out).toContain('Worker exited unexpectedly');
  expect(out).toMatch(/✓ b-passes\.stall\.ts/);
}, 60_000);
