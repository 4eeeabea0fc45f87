import { z } from 'zod';
import { SEVERITIES } from '../run-record.js';

/** A rule or webhook name: it appears in log lines, audit entries and alert records. */
const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a name of 1 to 64 letters, digits, ".", "_" or "-"');
const path = z.string().min(1).max(4096);
const minutes = z.number().gt(0).max(525_600);

/** An `https:` URL without credentials or a fragment (a URL may itself be a secret: it is never logged). */
const httpsUrl = z
  .string()
  .max(2048)
  .refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'https:' && url.username === '' && url.password === '' && url.hash === '';
    } catch {
      return false;
    }
  }, 'an https:// URL without user, password or #fragment');

const webhookSchema = z.strictObject({
  /** Where alerts are POSTed: `https:` only. */
  url: httpsUrl,
  /** The HMAC-SHA256 secret: a file of 16 to 4096 bytes, readable by its owner only (chmod 600). */
  secret_file: path,
  /** A CA certificate (PEM) to trust for this server, beside the system's. */
  ca_file: path.optional(),
  /** Retries after the first attempt, on network errors, timeouts, 429 and 5xx. */
  retries: z.int().min(0).max(10).default(5),
  /** How long one attempt may take. */
  timeout_seconds: z.number().gt(0).max(120).default(10),
});

const eventWindow = (what: string) =>
  z
    .strictObject({
      /** How many within the window fire the rule. */
      count: z.int().min(1).max(100_000).default(1),
      /** The sliding window. */
      within_minutes: minutes.default(10),
    })
    .describe(`${what} at least \`count\` times within \`within_minutes\``);

const empty = z.strictObject({});

/** The conditions; a rule names exactly one. */
const conditionSchema = z
  .strictObject({
    releases_denied: eventWindow('Key releases denied by the broker policy').optional(),
    attestation_failed: eventWindow('Attestation evidence rejected').optional(),
    loss_not_finite: empty.describe('A training loss is NaN or infinite').optional(),
    loss_diverging: z
      .strictObject({
        /** The mean of the last window over the best window mean seen that fires the rule. */
        factor: z.number().gt(1).max(1e6).default(3),
        /** Steps per window. */
        window_steps: z.int().min(1).max(100_000).default(20),
      })
      .describe('The mean loss of the last `window_steps` steps is over `factor` × the best such mean')
      .optional(),
    rss_above_mib: z
      .int()
      .min(1)
      .max(16 * 1024 * 1024)
      .describe('Resident memory above this many MiB')
      .optional(),
    audit_verification_failed: empty
      .describe('The audit log (the run’s or the broker’s) fails verification')
      .optional(),
    run_longer_than_minutes: minutes.describe('The run has lasted longer than this').optional(),
  })
  .check((ctx) => {
    const given = Object.keys(ctx.value);
    if (given.length !== 1)
      ctx.issues.push({
        code: 'custom',
        path: [],
        message: `name exactly one condition, not ${given.length === 0 ? 'none' : given.join(' and ')}`,
        input: ctx.value,
      });
  })
  .meta({ minProperties: 1, maxProperties: 1 });

const actionSchema = z.union([z.literal('log'), z.literal('stop'), z.strictObject({ webhook: name })], {
  error: 'an action is log, stop or { webhook: <name> }',
});

const ruleSchema = z.strictObject({
  name,
  /** When the rule fires. */
  when: conditionSchema,
  severity: z.enum(SEVERITIES).default('warning'),
  /** What firing does: print a line, POST to a webhook, stop the run. */
  actions: z.array(actionSchema).min(1).max(16).default(['log']),
});

/** The alert rules file (`version: 1`). Unknown fields are errors. */
export const alertRulesSchema = z
  .strictObject({
    version: z.literal(1),
    webhooks: z.record(name, webhookSchema).default({}),
    rules: z.array(ruleSchema).min(1).max(500),
  })
  .check((ctx) => {
    const seen = new Set<string>();
    ctx.value.rules.forEach((rule, i) => {
      if (seen.has(rule.name))
        ctx.issues.push({
          code: 'custom',
          path: ['rules', i, 'name'],
          message: `"${rule.name}" names another rule too`,
          input: rule.name,
        });
      seen.add(rule.name);
      rule.actions.forEach((action, j) => {
        if (typeof action === 'object' && !Object.hasOwn(ctx.value.webhooks, action.webhook))
          ctx.issues.push({
            code: 'custom',
            path: ['rules', i, 'actions', j, 'webhook'],
            message: `no webhook "${action.webhook}" under webhooks`,
            input: action.webhook,
          });
      });
    });
  });

/** The rules file as parsed. */
export type AlertRulesDocument = z.output<typeof alertRulesSchema>;
