// Alert rules on the key broker: every audited request reaches the rules through `onAudit`, so
// evidence that fails attestation fires `attestation_failed` at once, recorded in the broker's own
// audit log and in its alerts file; a passing request fires nothing.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readAuditEntries } from '../../src/audit/index.js';
import type { RunningBroker } from '../../src/broker/index.js';
import { AlertEngine, parseAlertRules } from '../../src/monitor/index.js';
import { brokerWithPrincipals, raw, tempDir } from '../broker/helpers.js';

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

describe('the broker with alert rules', () => {
  it('fires attestation_failed on bad evidence, into alerts.jsonl and the broker audit log', async () => {
    const tmp = await tempDir();
    const rules = parseAlertRules(
      'version: 1\nrules:\n  - { name: bad-evidence, when: { attestation_failed: {} }, severity: critical, actions: [log] }\n',
      'rules.yaml',
    );
    const lines: string[] = [];
    let engine: AlertEngine | undefined;
    let broker: RunningBroker | undefined;
    cleanup = async () => {
      await engine?.close();
      await broker?.close();
      await tmp.cleanup();
    };
    const started = await brokerWithPrincipals(tmp.dir, {
      onAudit: (event, time) => engine?.observeAudit({ ...event, time: time.toISOString() }),
    });
    broker = started.broker;
    const alertsPath = join(tmp.dir, 'alerts.jsonl');
    engine = new AlertEngine(rules, {
      actor: 'broker',
      sink: broker.audit,
      alertsPath,
      log: (l) => lines.push(l),
    });

    // A good request: quiet.
    expect((await raw(broker, '/attest/nonce', { token: started.workload })).status).toBe(200);
    expect(engine.fired()).toEqual([]);
    // Evidence that is not evidence.
    const res = await raw(broker, '/attest/evidence', {
      method: 'POST',
      token: started.workload,
      body: JSON.stringify({ type: 'sevsnp', evidence: 'AAAA' }),
    });
    expect(res.status).toBeGreaterThanOrEqual(400);
    await engine.flush();
    expect(engine.fired().map((a) => a.rule)).toEqual(['bad-evidence']);
    expect(lines.join('\n')).toContain('bad-evidence');
    const written = (await readFile(alertsPath, 'utf8')).trim().split('\n');
    expect(written).toHaveLength(1);
    expect(JSON.parse(written[0] ?? '{}')).toMatchObject({
      rule: 'bad-evidence',
      condition: 'attestation_failed',
    });
    const audited = await readAuditEntries(join(started.stateDir, 'audit'), { action: 'monitor.alert' });
    expect(audited.map((e) => e.details?.rule)).toEqual(['bad-evidence']);
  });
});
