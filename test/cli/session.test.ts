// The CLI session opens each command's audit log once: callers side by side (a run reads its key
// files and opens its providers at the same time) share one log, whose chain then stays whole; a
// failed open is not kept.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAuditLog } from '../../src/audit/index.js';
import { Session } from '../../src/cli/internal/session.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealtrain-session-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('Session.audit', () => {
  it('gives callers side by side the one log, and their records one unbroken chain', async () => {
    const home = join(dir, 'home');
    const session = new Session({ home });
    const [a, b, c] = await Promise.all([session.audit(), session.auditContext(), session.providers()]);
    expect(b.sink).toBe(a);
    expect(c.length).toBeGreaterThan(0);
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        a.record({ actor: 't', action: 'test.side-by-side', outcome: 'ok', details: { i: String(i) } }),
      ),
    );
    await session.close();
    const verdict = await verifyAuditLog(join(home, 'audit'));
    expect(verdict).toMatchObject({ ok: true });
  });

  it('does not keep a failed open: the next call tries again', async () => {
    const home = join(dir, 'blocked');
    await writeFile(home, 'not a folder');
    const session = new Session({ home });
    await expect(session.audit()).rejects.toBeDefined();
    await rm(home);
    const log = await session.audit();
    expect(log).toBeDefined();
    await session.close();
  });
});
