import { createHmac } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTls } from '../../src/broker/index.js';
import { cli } from '../helpers/cli.js';
import { type BuiltRun, buildRun } from './recorded-run.js';

const SECRET = 'cli-webhook-secret-0a1b2c3d4e5f6a7b';

let nan: BuiltRun;
let clean: BuiltRun;
let rules: string;

async function rulesFile(b: BuiltRun, url = 'https://127.0.0.1:1/hook', ca = ''): Promise<string> {
  await writeFile(join(b.root, 'hook.secret'), SECRET, { mode: 0o600 });
  const path = join(b.root, `rules-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(
    path,
    `version: 1
webhooks:
  ops: { url: "${url}", secret_file: hook.secret${ca}, retries: 1 }
rules:
  - { name: loss-nan, when: { loss_not_finite: {} }, severity: critical, actions: [log, { webhook: ops }, stop] }
  - { name: memory, when: { rss_above_mib: 4096 }, actions: [log] }
  - { name: denied, when: { releases_denied: { count: 2 } }, actions: [log] }
`,
  );
  return path;
}

beforeAll(async () => {
  nan = await buildRun({ loss: (s) => (s > 5 ? Number.NaN : 1), secondsPerStep: 60, deniedAt: [1, 2] });
  clean = await buildRun({});
  rules = await rulesFile(nan);
});
afterAll(async () => {
  await nan.cleanup();
  await clean.cleanup();
});

const audits = (b: BuiltRun) => ['--audit', b.auditDir, '--broker-audit', b.brokerAuditDir];

describe('sealtrain alerts test', () => {
  it('lists the rules that fired and those that stayed quiet, exit 0, as one JSON object', async () => {
    const r = await cli(['alerts', 'test', rules, nan.runDir, ...audits(nan), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({
      ok: true,
      run: { dir: nan.runDir, run_id: 'feedfacecafebeef' },
      audit_dir: nan.auditDir,
      broker_audit_dir: nan.brokerAuditDir,
      quiet: ['memory'],
      stop: { rule: 'loss-nan' },
      webhooks: { sent: false, deliveries: [] },
    });
    const fired = r.json?.fired as Array<{ rule: string; message: string }>;
    expect(fired.map((a) => a.rule)).toEqual(['denied', 'loss-nan']);
    expect(r.stdout.toString().trim().split('\n')).toHaveLength(1);
  });

  it('prints a report for people on stderr and says webhooks were not sent', async () => {
    const r = await cli(['alerts', 'test', rules, nan.runDir, ...audits(nan)]);
    expect(r.code).toBe(0);
    expect(r.stdout.toString()).toBe('');
    expect(r.stderr).toMatch(/2 of 3 rule\(s\) fired/);
    expect(r.stderr).toMatch(/FIRED loss-nan \[critical\] at .*: The training loss is NaN/);
    expect(r.stderr).toMatch(/quiet memory \(rss_above_mib\)/);
    expect(r.stderr).toMatch(/would have been stopped at .* by rule loss-nan/);
    expect(r.stderr).toMatch(/Dry run: 1 webhook post\(s\) not sent; pass --send/);
  });

  it('exits 36 with --fail-on-alert when a rule fired, and 0 when none did', async () => {
    const r = await cli(['alerts', 'test', rules, nan.runDir, ...audits(nan), '--fail-on-alert', '--json']);
    expect(r.code).toBe(36);
    expect(r.json).toMatchObject({
      ok: false,
      error: { code: 'ERR_MONITOR_ALERTS_FIRED', details: { rules: ['denied', 'loss-nan'] } },
    });
    const quiet = await cli([
      'alerts',
      'test',
      rules,
      clean.runDir,
      ...audits(clean),
      '--fail-on-alert',
      '--json',
    ]);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.json?.fired).toEqual([]);
  });

  it('reads the audit log of --home by default', async () => {
    const r = await cli(['alerts', 'test', rules, nan.runDir, '--home', nan.root, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json?.audit_dir).toBe(join(nan.root, 'audit'));
    expect(r.json?.broker_audit_dir).toBeNull();
  });

  it('refuses a bad rules file (35) and a folder that is not a run (37)', async () => {
    const bad = join(nan.root, 'bad.yaml');
    await writeFile(bad, 'version: 1\nrules:\n  - { name: x, when: { loss_nan: {} } }\n');
    const r = await cli(['alerts', 'test', bad, nan.runDir, '--json']);
    expect(r.code).toBe(35);
    expect(r.stderr).toMatch(/bad\.yaml is invalid: rules\.0\.when: Unrecognized key: "loss_nan"/);
    const notRun = await cli(['alerts', 'test', rules, nan.root, '--json']);
    expect(notRun.code).toBe(37);
    expect(notRun.json).toMatchObject({ ok: false, error: { code: 'ERR_MONITOR_RUN_INVALID' } });
  });

  it('delivers the webhooks with --send, signed with the secret, which never reaches the output', async () => {
    const tls = await ensureTls(join(nan.root, 'tls'));
    const bodies: Array<{ signature: string; timestamp: string; body: string }> = [];
    const server = createServer({ cert: tls.certChainPem, key: tls.keyPem }, (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        const h = req.headers;
        bodies.push({
          signature: String(h['x-sealtrain-signature']),
          timestamp: String(h['x-sealtrain-timestamp']),
          body,
        });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const sending = await rulesFile(nan, `https://127.0.0.1:${port}/hook`, `, ca_file: ${tls.caPath}`);
      const r = await cli(['alerts', 'test', sending, nan.runDir, ...audits(nan), '--send', '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.json?.webhooks).toMatchObject({
        sent: true,
        deliveries: [{ webhook: 'ops', outcome: 'delivered', tag: 'loss-nan' }],
      });
      expect(bodies).toHaveLength(1);
      const [got] = bodies;
      const mac = createHmac('sha256', SECRET).update(`${got?.timestamp}.${got?.body}`).digest('hex');
      expect(got?.signature).toBe(`sha256=${mac}`);
      expect(r.stdout.toString() + r.stderr).not.toContain(SECRET);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('sealtrain alerts schema', () => {
  it('prints the rules file JSON Schema', async () => {
    const r = await cli(['alerts', 'schema']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ $id: 'https://sealtrain.dev/schema/alert-rules-v1.json', type: 'object' });
  });
});
