// A vitest reporter that turns a test file stuck for good into a failure that says where it
// stuck. Vitest's own timeouts run on the test file's main thread: a thread blocked in a system
// call or a native wait never reaches them, and the run then waits until CI gives up on it,
// printing nothing about the file. This reporter runs in vitest's own process. When no test or
// hook has started or ended for longer than any running test may take, it prints what was running,
// the test processes with each thread's state and kernel wait, and their stacks when gdb is on the
// machine, then kills the test processes and their children. Vitest reports their files as failed
// ("Worker exited unexpectedly") and goes on with the next. The silence is the whole run's, so by
// then every test process still running has been silent beyond what its own tests may take
// (with one worker, as on a 2-core machine, there is only the stuck one).

import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { Reporter, TestCase, TestModule } from 'vitest/node';

export interface StallWatchOptions {
  /** Silence, with no test running, after which the run counts as stuck (default 3 minutes). */
  readonly stallMs?: number;
  /** Added to a running test's own timeout before its silence counts as stuck (default 2 minutes). */
  readonly graceMs?: number;
  /** How often to look (default 10 s). */
  readonly everyMs?: number;
}

interface Running {
  readonly name: string;
  readonly since: number;
  readonly timeout: number;
}

/** One process under vitest, as /proc tells it. */
interface Proc {
  readonly pid: number;
  readonly ppid: number;
  readonly command: string;
}

const read = (path: string): string => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
};

/** A /proc `stat` line's fields after `pid (comm)`: state, ppid, …; comm may hold spaces and ')'. */
const statFields = (stat: string): string[] => stat.slice(stat.lastIndexOf(')') + 2).split(' ');

/** Every process on the host and its parent (commands are read for those under vitest only). */
function processes(): { pid: number; ppid: number }[] {
  const all: { pid: number; ppid: number }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const ppid = Number(statFields(read(`/proc/${entry}/stat`))[1]);
    if (Number.isInteger(ppid)) all.push({ pid: Number(entry), ppid });
  }
  return all;
}

/** The processes under `root`, parents before their children, with their command lines. */
function descendants(root: number, all: { pid: number; ppid: number }[]): Proc[] {
  const children = new Map<number, number[]>();
  for (const p of all) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const out: Proc[] = [];
  const walk = (ppid: number) => {
    for (const pid of children.get(ppid) ?? []) {
      out.push({ pid, ppid, command: read(`/proc/${pid}/cmdline`).split('\0').join(' ').trim() });
      walk(pid);
    }
  };
  walk(root);
  return out;
}

/** Each thread of `pid`: its name, state, kernel wait channel and system call. */
function threads(pid: number): string[] {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return ['    (gone)'];
  }
  return tids.map((tid) => {
    const at = `/proc/${pid}/task/${tid}`;
    const stat = read(`${at}/stat`);
    const state = statFields(stat)[0];
    const syscall = read(`${at}/syscall`).split(' ')[0]?.trim() || '?';
    return `    ${tid} ${read(`${at}/comm`).trim()} state=${state} wchan=${read(`${at}/wchan`).trim() || '?'} syscall=${syscall}`;
  });
}

function gdbStacks(pid: number): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      'gdb',
      ['-p', String(pid), '-batch', '-nx', '-ex', 'thread apply all bt 30'],
      // A gdb stuck on a task in uninterruptible sleep must not stop the watch itself.
      { timeout: 30_000, killSignal: 'SIGKILL', maxBuffer: 4 * 1024 * 1024 },
      (error, stdout) => {
        if (error && (error as NodeJS.ErrnoException).code === 'ENOENT')
          resolve('    (gdb is not installed)');
        else resolve(stdout.trim() || `    (gdb: ${error?.message ?? 'no output'})`);
      },
    );
  });
}

export default class StallWatch implements Reporter {
  private readonly stallMs: number;
  private readonly graceMs: number;
  private readonly everyMs: number;
  private readonly running = new Map<string, Running>();
  /** The last test each running file finished: where to look when its next one never reports. */
  private readonly lastDone = new Map<string, string>();
  private last = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private acting = false;

  constructor(options: StallWatchOptions = {}) {
    this.stallMs = options.stallMs ?? 3 * 60_000;
    this.graceMs = options.graceMs ?? 2 * 60_000;
    this.everyMs = options.everyMs ?? 10_000;
  }

  onInit(): void {
    this.timer = setInterval(() => {
      this.look().catch((error: unknown) => {
        process.stderr.write(`[stall-watch] could not look at the test processes: ${String(error)}\n`);
      });
    }, this.everyMs);
    this.timer.unref();
  }

  onTestRunEnd(): void {
    clearInterval(this.timer);
  }

  onTestModuleStart(m: TestModule): void {
    this.touch();
    this.running.set(m.id, { name: m.moduleId, since: Date.now(), timeout: 0 });
  }

  onTestModuleEnd(m: TestModule): void {
    this.touch();
    this.running.delete(m.id);
    this.lastDone.delete(m.moduleId);
  }

  onTestCaseReady(t: TestCase): void {
    this.touch();
    this.running.set(t.id, {
      name: `${t.module.moduleId} › ${t.fullName}`,
      since: Date.now(),
      timeout: t.options.timeout ?? 0,
    });
  }

  onTestCaseResult(t: TestCase): void {
    this.touch();
    this.running.delete(t.id);
    this.lastDone.set(t.module.moduleId, t.fullName);
  }

  onHookStart(): void {
    this.touch();
  }

  onHookEnd(): void {
    this.touch();
  }

  private touch(): void {
    this.last = Date.now();
  }

  /** How long a silence may last while these tests run. */
  private limit(): number {
    let longest = 0;
    for (const r of this.running.values()) longest = Math.max(longest, r.timeout);
    return Math.max(this.stallMs, longest + this.graceMs);
  }

  private async look(): Promise<void> {
    const silent = Date.now() - this.last;
    if (this.acting || silent <= this.limit()) return;
    this.acting = true;
    try {
      await this.report(silent);
    } finally {
      this.touch();
      this.acting = false;
    }
  }

  private async report(silent: number): Promise<void> {
    const before = this.last;
    const under = descendants(process.pid, processes());
    // The test files run in vitest's forks; everything else under vitest was started by a test.
    const forks = under.filter((p) => p.ppid === process.pid && p.command.includes('workers/forks'));
    // Stacks first: when only the end of a long log is kept, the summary below is what remains.
    const stacks = (
      await Promise.all(forks.map(async (f) => [`[stall-watch] Stacks of ${f.pid}:`, await gdbStacks(f.pid)]))
    ).flat();
    const lines = [
      '',
      ...stacks,
      `[stall-watch] No test or hook has started or ended for ${Math.round(silent / 1000)} s; still running:`,
      ...[...this.running.values()].map(
        (r) => `  ${r.name} (for ${Math.round((Date.now() - r.since) / 1000)} s)`,
      ),
      ...[...this.lastDone].map(([file, test]) => `  the last test ${file} finished: ${test}`),
      '[stall-watch] The processes under vitest, each thread with its state, kernel wait and system call:',
    ];
    for (const p of under)
      lines.push(`  ${p.pid} (parent ${p.ppid}): ${p.command.slice(0, 300)}`, ...threads(p.pid));
    // A test that reported while gdb looked was not stuck after all.
    const moved = this.last !== before;
    lines.push(
      moved
        ? '[stall-watch] A test reported meanwhile: nothing is killed.'
        : '[stall-watch] Killing the test processes above; vitest reports their files as failed.',
    );
    process.stderr.write(`${lines.join('\n')}\n`);
    if (moved) return;
    // Their tests never report now: they no longer count as running.
    this.running.clear();
    this.lastDone.clear();
    const now = processes();
    for (const f of forks) {
      // Still vitest's child (not a new process that took the number since).
      if (!now.some((p) => p.pid === f.pid && p.ppid === process.pid)) continue;
      for (const p of [f, ...descendants(f.pid, now)].reverse()) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }
}
