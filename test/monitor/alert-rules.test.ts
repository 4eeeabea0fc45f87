import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { alertRulesJsonSchema, loadAlertRules, parseAlertRules } from '../../src/monitor/index.js';
import { rejectsWith } from '../helpers/rejects.js';

const EXAMPLE = new URL('../../examples/alerts.yaml', import.meta.url);
const SECRET = 'a-webhook-secret-of-some-length-0123456789';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sealtrain-alert-rules-'));
  await writeFile(join(dir, 'hook.secret'), `${SECRET}\n`, { mode: 0o600 });
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** The shipped example with its secret file pointed at the test's. */
async function example(): Promise<string> {
  return (await readFile(EXAMPLE, 'utf8')).replace('/etc/sealtrain/webhook.secret', 'hook.secret');
}

async function write(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

const minimal = (extra = '') =>
  `version: 1\nrules:\n  - name: nan\n    when: { loss_not_finite: {} }\n${extra}`;

describe('loadAlertRules', () => {
  it('reads the shipped example: every condition, defaults filled in, the secret resolved beside the file', async () => {
    const rules = await loadAlertRules(await write('rules.yaml', await example()));
    expect(rules.rules.map((r) => r.condition.kind)).toEqual([
      'releases_denied',
      'attestation_failed',
      'loss_not_finite',
      'loss_diverging',
      'rss_above_mib',
      'audit_verification_failed',
      'run_longer_than_minutes',
    ]);
    expect(rules.rules[0]?.condition).toEqual({ kind: 'releases_denied', count: 3, withinMinutes: 10 });
    expect(rules.rules[1]?.condition).toEqual({ kind: 'attestation_failed', count: 1, withinMinutes: 10 });
    expect(rules.rules[3]?.severity).toBe('warning');
    expect(rules.rules[0]?.actions).toEqual([
      { kind: 'log' },
      { kind: 'webhook', webhook: 'ops' },
      { kind: 'stop' },
    ]);
    const [hook] = rules.webhooks;
    expect(hook?.name).toBe('ops');
    expect(hook?.retries).toBe(5);
    expect(hook?.timeoutMs).toBe(10_000);
    // The secret is a key object: it cannot leak through JSON or string conversion.
    expect(hook?.secret.export().toString()).toBe(SECRET);
    expect(JSON.stringify(rules)).not.toContain(SECRET);
  });

  it('tells JSON from YAML by content, not by the file name', async () => {
    const asJson = JSON.stringify(parseYaml(await example()));
    const fromJson = await loadAlertRules(await write('rules.yaml', asJson));
    const fromYaml = await loadAlertRules(await write('rules.json', await example()));
    expect(fromJson.rules).toEqual(fromYaml.rules);
    const error = await rejectsWith(
      loadAlertRules(await write('bad.yaml', '{"version": 1,')),
      'ERR_MONITOR_RULES_INVALID',
    );
    expect(error.message).toMatch(/bad\.yaml.*not valid JSON/);
  });

  it('refuses an unknown field, naming the file and the path', async () => {
    const path = await write('rules.yaml', minimal('    treshold: 3\n'));
    const error = await rejectsWith(loadAlertRules(path), 'ERR_MONITOR_RULES_INVALID');
    expect(error.message).toContain(path);
    expect(error.message).toMatch(/rules\.0: Unrecognized key: "treshold"/);
    const typo = await write('typo.yaml', 'version: 1\nrules:\n  - name: nan\n    when: { loss_nan: {} }\n');
    expect((await rejectsWith(loadAlertRules(typo), 'ERR_MONITOR_RULES_INVALID')).message).toMatch(
      /rules\.0\.when: Unrecognized key: "loss_nan"/,
    );
  });

  it('refuses bad YAML with its line, duplicate keys and unresolved aliases', async () => {
    const path = await write('rules.yaml', 'version: 1\nrules:\n  - name: [unclosed\n');
    const error = await rejectsWith(loadAlertRules(path), 'ERR_MONITOR_RULES_INVALID');
    expect(error.message).toMatch(/rules\.yaml is invalid: not valid YAML at line \d+/);
    const twice = await write('twice.yaml', 'version: 1\nversion: 1\nrules: []\n');
    expect((await rejectsWith(loadAlertRules(twice), 'ERR_MONITOR_RULES_INVALID')).message).toMatch(
      /not valid YAML at line 2, column 1: Map keys must be unique/,
    );
    const alias = await write('alias.yaml', 'version: 1\nrules: *nowhere\n');
    expect((await rejectsWith(loadAlertRules(alias), 'ERR_MONITOR_RULES_INVALID')).message).toMatch(
      /not valid YAML: Unresolved alias/,
    );
  });

  it('refuses wrong values, naming each path', async () => {
    const cases: Array<[string, RegExp]> = [
      [
        minimal().replace('loss_not_finite: {}', 'loss_not_finite: {}, rss_above_mib: 10'),
        /rules\.0\.when: name exactly one condition, not loss_not_finite and rss_above_mib/,
      ],
      [
        minimal().replace('loss_not_finite: {}', 'releases_denied: { count: 0 }'),
        /rules\.0\.when\.releases_denied\.count/,
      ],
      [
        minimal().replace('loss_not_finite: {}', 'loss_diverging: { factor: 1 }'),
        /rules\.0\.when\.loss_diverging\.factor/,
      ],
      [
        minimal('    actions: [log, page]\n'),
        /rules\.0\.actions\.1: an action is log, stop or \{ webhook: <name> \}/,
      ],
      [
        minimal('    actions: [{ webhook: pager }]\n'),
        /rules\.0\.actions\.0\.webhook: no webhook "pager" under webhooks/,
      ],
      [minimal('    severity: urgent\n'), /rules\.0\.severity/],
      [
        `${minimal()}  - name: nan\n    when: { loss_not_finite: {} }\n`,
        /rules\.1\.name: "nan" names another rule too/,
      ],
      [minimal().replace('version: 1', 'version: 2'), /version/],
      [
        `version: 1\nwebhooks:\n  ops: { url: "http://hooks.example.com/x", secret_file: s }\n${minimal().slice(11)}`,
        /webhooks\.ops\.url: an https:\/\/ URL/,
      ],
      [
        `version: 1\nwebhooks:\n  ops: { url: "https://user:pw@hooks.example.com/x", secret_file: s }\n${minimal().slice(11)}`,
        /webhooks\.ops\.url: an https:\/\/ URL without user, password/,
      ],
    ];
    for (const [text, message] of cases) expect(() => parseAlertRules(text, 'r.yaml'), text).toThrow(message);
  });

  it('refuses a missing, short or group/world-readable secret file, never showing the secret', async () => {
    const rules = (secret: string) =>
      `version: 1\nwebhooks:\n  ops: { url: "https://127.0.0.1:1/x", secret_file: ${secret} }\n${minimal('    actions: [{ webhook: ops }]\n').slice(11)}`;
    const missing = await rejectsWith(
      loadAlertRules(await write('a.yaml', rules('nowhere.secret'))),
      'ERR_MONITOR_RULES_INVALID',
    );
    expect(missing.message).toMatch(
      /a\.yaml is invalid: webhooks\.ops\.secret_file: .*nowhere\.secret does not exist/,
    );
    expect(missing.details.field).toBe('webhooks.ops.secret_file');

    await chmod(join(dir, 'hook.secret'), 0o644);
    const open = await rejectsWith(
      loadAlertRules(await write('b.yaml', rules('hook.secret'))),
      'ERR_MONITOR_RULES_INVALID',
    );
    expect(open.message).toMatch(/hook\.secret is open to group or others \(mode 644\).*chmod 600/);
    expect(open.message).not.toContain(SECRET);

    await writeFile(join(dir, 'short.secret'), 'too-short\n', { mode: 0o600 });
    const short = await rejectsWith(
      loadAlertRules(await write('c.yaml', rules('short.secret'))),
      'ERR_MONITOR_RULES_INVALID',
    );
    expect(short.message).toMatch(/short\.secret holds fewer than 16 bytes/);
    expect(short.message).not.toContain('too-short');
  });

  it('refuses a CA file that holds no certificate', async () => {
    await writeFile(join(dir, 'ca.pem'), 'not a certificate');
    const text = `version: 1\nwebhooks:\n  ops: { url: "https://127.0.0.1:1/x", secret_file: hook.secret, ca_file: ca.pem }\n${minimal().slice(11)}`;
    const error = await rejectsWith(loadAlertRules(await write('r.yaml', text)), 'ERR_MONITOR_RULES_INVALID');
    expect(error.message).toMatch(/webhooks\.ops\.ca_file: .*ca\.pem holds no PEM certificate/);
  });
});

describe('alertRulesJsonSchema', () => {
  it('accepts the shipped example and refuses what the loader refuses', async () => {
    const validate = new Ajv2020({ strict: false }).compile(alertRulesJsonSchema());
    expect(validate(parseYaml(await example())), JSON.stringify(validate.errors)).toBe(true);
    const doc = parseYaml(minimal()) as { rules: Array<Record<string, unknown>> };
    expect(validate(doc)).toBe(true);
    (doc.rules[0] as Record<string, unknown>).treshold = 3;
    expect(validate(doc)).toBe(false);
    expect(
      validate(parseYaml(minimal().replace('loss_not_finite: {}', 'loss_not_finite: {}, rss_above_mib: 10'))),
    ).toBe(false);
  });
});
