import { createHmac } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog, readAuditEntries } from '../../src/audit/index.js';
import { ensureTls } from '../../src/broker/index.js';
import {
  AlertEngine,
  type DeliveryResult,
  loadAlertRules,
  verifyWebhookSignature,
  WebhookSender,
  type WebhookTarget,
} from '../../src/monitor/index.js';
import type { StepMetric } from '../../src/run/index.js';

const SECRET = 'whsec-9f2c41d7e0b84a6c93d5e7f1a2b3c4d5';
const FAST = { backoff: { baseMs: 5, maxMs: 20 } } as const;

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}
/** What the test server does with its n-th request (from 1): answer with a status, or never. */
type Answer = (n: number) => number | 'hang';

let dir: string;
let tls: { caPath: string; certChainPem: string; keyPem: string };
const servers: Server[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealtrain-webhook-'));
  tls = await ensureTls(join(dir, 'tls'));
  await writeFile(join(dir, 'hook.secret'), `${SECRET}\n`, { mode: 0o600 });
  return () => rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

/** A local HTTPS receiver with a certificate from the test's own CA. */
async function receiver(
  answer: Answer,
): Promise<{ url: string; received: Received[]; arrived: Promise<void> }> {
  const received: Received[] = [];
  let firstArrived = () => {};
  const arrived = new Promise<void>((resolve) => {
    firstArrived = resolve;
  });
  const server = createServer({ cert: tls.certChainPem, key: tls.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
      firstArrived();
      const what = answer(received.length);
      if (what !== 'hang') res.writeHead(what).end();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `https://127.0.0.1:${port}/hooks/T0KEN-in-path`, received, arrived };
}

/** Webhook targets as the rules loader makes them (secret file, CA file). */
async function targets(url: string, options: { retries?: number; timeout?: number; ca?: boolean } = {}) {
  const path = join(dir, `rules-${Math.random().toString(36).slice(2)}.yaml`);
  const ca = options.ca === false ? '' : `, ca_file: ${tls.caPath}`;
  await writeFile(
    path,
    `version: 1
webhooks:
  ops: { url: "${url}", secret_file: hook.secret${ca}, retries: ${options.retries ?? 3}, timeout_seconds: ${options.timeout ?? 30} }
rules:
  - name: loss-nan
    when: { loss_not_finite: {} }
    severity: critical
    actions: [log, { webhook: ops }]
`,
  );
  return loadAlertRules(path);
}

function step(n: number, loss: number): StepMetric {
  const time = new Date(Date.UTC(2026, 10, 1, 10, 0, n)).toISOString();
  return {
    type: 'step',
    epoch: 0,
    step: n,
    loss,
    accuracy: 0.5,
    learning_rate: 0.01,
    samples_per_second: 1,
    time,
  };
}

function results(sender: WebhookSender): DeliveryResult[] {
  const out: DeliveryResult[] = [];
  sender.onResult((r) => out.push(r));
  return out;
}

describe('WebhookSender', () => {
  it('POSTs a body the receiver verifies with the shared secret (HMAC-SHA256 over timestamp.body)', async () => {
    const hook = await receiver(() => 204);
    const rules = await targets(hook.url);
    const sender = new WebhookSender(rules.webhooks, FAST);
    const engine = new AlertEngine(rules, { webhooks: sender, runId: 'feedfacecafebeef', log: () => {} });
    engine.observeMetric(step(1, Number.NaN));
    expect(await engine.close(10_000)).toEqual({ delivered: 1, failed: 0, undelivered: 0, dropped: 0 });

    const [got] = hook.received;
    const timestamp = String(got?.headers['x-sealtrain-timestamp']);
    const signature = String(got?.headers['x-sealtrain-signature']);
    const expected = createHmac('sha256', SECRET).update(`${timestamp}.${got?.body}`).digest('hex');
    expect(signature).toBe(`sha256=${expected}`);
    expect(Math.abs(Date.now() / 1000 - Number(timestamp))).toBeLessThan(300);
    expect(got?.headers['content-type']).toBe('application/json');
    const body = JSON.parse(got?.body ?? '');
    expect(body).toMatchObject({ version: 1, type: 'sealtrain.alert', run_id: 'feedfacecafebeef' });
    expect(body.alert).toMatchObject({
      rule: 'loss-nan',
      severity: 'critical',
      condition: 'loss_not_finite',
    });

    // The receiver-side helper agrees, and refuses a changed body, a wrong secret and a replay.
    const request = { timestamp, signature, body: got?.body ?? '' };
    expect(verifyWebhookSignature(SECRET, request)).toBe(true);
    expect(
      verifyWebhookSignature(SECRET, { ...request, body: request.body.replace('critical', 'info') }),
    ).toBe(false);
    expect(verifyWebhookSignature(`${SECRET}x`, request)).toBe(false);
    const later = new Date((Number(timestamp) + 3600) * 1000);
    expect(verifyWebhookSignature(SECRET, request, { now: later })).toBe(false);
  });

  it('retries 503 with backoff: 503, 503, 200 is three attempts of one delivery', async () => {
    const hook = await receiver((n) => (n <= 2 ? 503 : 200));
    const sender = new WebhookSender((await targets(hook.url)).webhooks, FAST);
    const seen = results(sender);
    const id = sender.send('ops', { hello: 1 });
    await sender.close(10_000);
    expect(seen).toEqual([{ id, webhook: 'ops', outcome: 'delivered', ok: true, attempts: 3, status: 200 }]);
    expect(hook.received.map((r) => r.headers['x-sealtrain-attempt'])).toEqual(['1', '2', '3']);
    expect(new Set(hook.received.map((r) => r.headers['x-sealtrain-delivery']))).toEqual(new Set([id]));
  });

  it('does not retry a 400, and gives up after its retries on 500', async () => {
    const bad = await receiver(() => 400);
    const sender = new WebhookSender((await targets(bad.url)).webhooks, FAST);
    const seen = results(sender);
    sender.send('ops', {});
    await sender.close(10_000);
    expect(seen[0]).toMatchObject({ outcome: 'rejected', ok: false, attempts: 1, status: 400 });
    expect(bad.received).toHaveLength(1);

    const broken = await receiver(() => 500);
    const again = new WebhookSender((await targets(broken.url, { retries: 2 })).webhooks, FAST);
    const seenAgain = results(again);
    again.send('ops', {});
    expect(await again.close(10_000)).toEqual({ delivered: 0, failed: 1, undelivered: 0, dropped: 0 });
    expect(seenAgain[0]).toMatchObject({ outcome: 'gave-up', attempts: 3, error: 'HTTP 500' });
    expect(broken.received).toHaveLength(3);
  });

  it('sends nothing to a server whose certificate is not trusted', async () => {
    const hook = await receiver(() => 200);
    const sender = new WebhookSender((await targets(hook.url, { retries: 0, ca: false })).webhooks, FAST);
    const seen = results(sender);
    sender.send('ops', {});
    await sender.close(10_000);
    expect(seen[0]).toMatchObject({ outcome: 'gave-up', attempts: 1 });
    expect(seen[0]?.error).toMatch(/certificate/i);
    expect(hook.received).toHaveLength(0);
  });

  it('gives up on a closed port after its retries; send returns before any attempt ends', async () => {
    const probe = createHttpServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise((resolve) => probe.close(resolve));
    const sender = new WebhookSender(
      (await targets(`https://127.0.0.1:${port}/x`, { retries: 2 })).webhooks,
      FAST,
    );
    const seen = results(sender);
    sender.send('ops', {});
    expect(sender.pending).toBe(1);
    expect(seen).toEqual([]);
    await sender.close(10_000);
    expect(seen[0]).toMatchObject({ outcome: 'gave-up', attempts: 3 });
    expect(seen[0]?.error).toMatch(/ECONNREFUSED/);
  });
});

describe('a dead webhook', () => {
  it('does not hold up the engine: 1000 observations complete while deliveries hang, the queue stays bounded', async () => {
    const hook = await receiver(() => 'hang');
    const rules = await targets(hook.url);
    const sender = new WebhookSender(rules.webhooks, { ...FAST, maxQueue: 100, concurrency: 2 });
    const audit: string[] = [];
    const engine = new AlertEngine(rules, {
      webhooks: sender,
      log: () => {},
      sink: { record: async (e) => void audit.push(`${e.action}:${e.details?.result ?? ''}`) },
    });
    engine.observeMetric(step(0, Number.NaN));
    await hook.arrived;
    // NaN and finite losses alternate: 500 episodes, 500 alerts, 500 webhook posts.
    for (let i = 1; i <= 1000; i++) engine.observeMetric(step(i, i % 2 === 0 ? Number.NaN : 1));
    expect(engine.fired()).toHaveLength(501);
    expect(hook.received.length).toBeLessThanOrEqual(2);
    expect(sender.pending).toBe(102);
    expect(sender.dropped).toBe(501 - 102);
    const summary = await engine.close(50);
    expect(summary).toEqual({ delivered: 0, failed: 0, undelivered: 102, dropped: 399 });
    expect(audit.filter((a) => a === 'monitor.webhook:deadline')).toHaveLength(102);
    expect(audit.filter((a) => a === 'monitor.webhook:dropped')).toHaveLength(399);
    expect(audit.filter((a) => a.startsWith('monitor.alert'))).toHaveLength(501);
  });
});

describe('the webhook secret', () => {
  it('appears in none of alerts.jsonl, the audit log or the log lines, and neither does the URL', async () => {
    const ok = await receiver(() => 200);
    const failing = await receiver(() => 503);
    const runDir = join(dir, 'run');
    await mkdir(runDir, { recursive: true });
    const rules = await targets(ok.url);
    const failRules = await targets(failing.url, { retries: 1 });
    const webhooks: WebhookTarget[] = [
      ...rules.webhooks,
      { ...(failRules.webhooks[0] as WebhookTarget), name: 'pager' },
    ];
    const sink = await AuditLog.open(join(dir, 'audit'));
    const lines: string[] = [];
    const engine = new AlertEngine(
      {
        rules: [
          {
            ...(rules.rules[0] as (typeof rules.rules)[number]),
            actions: [
              { kind: 'log' },
              { kind: 'webhook', webhook: 'ops' },
              { kind: 'webhook', webhook: 'pager' },
            ],
          },
        ],
      },
      {
        webhooks: new WebhookSender(webhooks, FAST),
        sink,
        alertsPath: join(runDir, 'alerts.jsonl'),
        log: (line) => lines.push(line),
      },
    );
    engine.observeMetric(step(1, Number.NaN));
    await engine.close(10_000);
    await sink.close();
    const alertsText = await readFile(join(runDir, 'alerts.jsonl'), 'utf8');
    const auditText = await readFile(join(dir, 'audit', 'audit.jsonl'), 'utf8');
    expect(lines.join('\n')).toMatch(
      /webhook pager for alert loss-nan: gave-up after 2 attempt\(s\) \(HTTP 503\)/,
    );
    const webhookEntries = (await readAuditEntries(join(dir, 'audit'), { action: 'monitor.webhook' })).map(
      (e) => [e.details?.webhook, e.outcome, e.details?.result],
    );
    expect(webhookEntries.sort()).toEqual([
      ['ops', 'ok', 'delivered'],
      ['pager', 'error', 'gave-up'],
    ]);
    for (const text of [alertsText, auditText, lines.join('\n')]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain('T0KEN-in-path');
    }
  });
});
