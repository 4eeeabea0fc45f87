import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { fromFsError, SealtrainError } from '../errors/index.js';
import { configProblems } from '../train/index.js';
import { type AlertRulesDocument, alertRulesSchema } from './internal/alert-schema.js';
import { readCaFile, readWebhookSecret } from './internal/alert-secret.js';
import type { Severity } from './run-record.js';
import type { WebhookTarget } from './webhook.js';

/** The condition kinds a rule can name, as they appear in the rules file and in alert records. */
export const ALERT_CONDITIONS = [
  'releases_denied',
  'attestation_failed',
  'loss_not_finite',
  'loss_diverging',
  'rss_above_mib',
  'audit_verification_failed',
  'run_longer_than_minutes',
] as const;
export type AlertConditionKind = (typeof ALERT_CONDITIONS)[number];

/** One rule's condition, resolved (defaults filled in). */
export type AlertCondition =
  | { readonly kind: 'releases_denied'; readonly count: number; readonly withinMinutes: number }
  | { readonly kind: 'attestation_failed'; readonly count: number; readonly withinMinutes: number }
  | { readonly kind: 'loss_not_finite' }
  | { readonly kind: 'loss_diverging'; readonly factor: number; readonly windowSteps: number }
  | { readonly kind: 'rss_above_mib'; readonly mib: number }
  | { readonly kind: 'audit_verification_failed' }
  | { readonly kind: 'run_longer_than_minutes'; readonly minutes: number };

/** What a rule does when it fires. */
export type AlertAction =
  | { readonly kind: 'log' }
  | { readonly kind: 'stop' }
  | { readonly kind: 'webhook'; readonly webhook: string };

/** One rule of the rules file. */
export interface AlertRule {
  readonly name: string;
  readonly severity: Severity;
  readonly condition: AlertCondition;
  readonly actions: readonly AlertAction[];
}

/** A webhook as the rules file declares it; `secretFile` and `caFile` are absolute. */
export interface WebhookConfig {
  readonly name: string;
  readonly url: string;
  readonly secretFile: string;
  readonly caFile?: string;
  readonly retries: number;
  readonly timeoutMs: number;
}

/** A validated rules file; nothing read beyond the file itself. */
export interface AlertRulesFile {
  /** Where it was read from (names it in messages). */
  readonly source: string;
  readonly rules: readonly AlertRule[];
  readonly webhooks: readonly WebhookConfig[];
}

/** A rules file with its webhooks' secrets and CA certificates loaded, ready for the engine. */
export interface AlertRules {
  readonly source: string;
  readonly rules: readonly AlertRule[];
  readonly webhooks: readonly WebhookTarget[];
}

/** The largest rules file read. */
const MAX_RULES_BYTES = 256 * 1024;

function invalid(source: string, problems: readonly string[], field?: string): SealtrainError {
  return new SealtrainError(
    'ERR_MONITOR_RULES_INVALID',
    `The alert rules file ${source} is invalid: ${problems.join('; ')}.`,
    { details: { path: source, problems, ...(field === undefined ? {} : { field }) } },
  );
}

/** JSON when the text starts with `{`, YAML otherwise (whatever the file is called). */
function parseText(text: string, source: string): unknown {
  if (/^\s*\{/.test(text)) {
    try {
      return JSON.parse(text);
    } catch (error) {
      throw invalid(source, [`not valid JSON: ${(error as Error).message}`]);
    }
  }
  try {
    return parseYaml(text, { uniqueKeys: true, maxAliasCount: 100, logLevel: 'error' });
  } catch (error) {
    // YAMLParseError for syntax; the library throws plain errors for e.g. an unresolved alias.
    const at = error instanceof YAMLParseError ? error.linePos?.[0] : undefined;
    const where = at ? ` at line ${at.line}, column ${at.col}` : '';
    const message = error instanceof Error ? error.message : String(error);
    const what = (message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    throw invalid(source, [`not valid YAML${where}: ${what}`]);
  }
}

function conditionOf(when: AlertRulesDocument['rules'][number]['when']): AlertCondition {
  if (when.releases_denied)
    return {
      kind: 'releases_denied',
      count: when.releases_denied.count,
      withinMinutes: when.releases_denied.within_minutes,
    };
  if (when.attestation_failed)
    return {
      kind: 'attestation_failed',
      count: when.attestation_failed.count,
      withinMinutes: when.attestation_failed.within_minutes,
    };
  if (when.loss_not_finite) return { kind: 'loss_not_finite' };
  if (when.loss_diverging)
    return {
      kind: 'loss_diverging',
      factor: when.loss_diverging.factor,
      windowSteps: when.loss_diverging.window_steps,
    };
  if (when.rss_above_mib !== undefined) return { kind: 'rss_above_mib', mib: when.rss_above_mib };
  if (when.audit_verification_failed) return { kind: 'audit_verification_failed' };
  if (when.run_longer_than_minutes !== undefined)
    return { kind: 'run_longer_than_minutes', minutes: when.run_longer_than_minutes };
  throw new SealtrainError('ERR_INTERNAL', 'A validated rule has no condition.');
}

/**
 * Parses and validates the text of a rules file: JSON when it starts with `{`, else YAML.
 * Relative `secret_file` and `ca_file` paths are resolved against `baseDir` (default: the folder of
 * `source`). Does no I/O.
 *
 * @throws {SealtrainError} `ERR_MONITOR_RULES_INVALID` naming `source` and every bad field.
 */
export function parseAlertRules(
  text: string,
  source: string,
  baseDir = dirname(resolve(source)),
): AlertRulesFile {
  const result = alertRulesSchema.safeParse(parseText(text, source));
  if (!result.success) {
    const first = result.error.issues[0]?.path.map(String).join('.');
    throw invalid(source, configProblems(result.error, ''), first);
  }
  const doc = result.data;
  const at = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  return {
    source,
    rules: doc.rules.map((r) => ({
      name: r.name,
      severity: r.severity,
      condition: conditionOf(r.when),
      actions: r.actions.map((a) =>
        a === 'log' || a === 'stop' ? { kind: a } : { kind: 'webhook' as const, webhook: a.webhook },
      ),
    })),
    webhooks: Object.entries(doc.webhooks).map(([name, w]) => ({
      name,
      url: w.url,
      secretFile: at(w.secret_file),
      ...(w.ca_file === undefined ? {} : { caFile: at(w.ca_file) }),
      retries: w.retries,
      timeoutMs: Math.round(w.timeout_seconds * 1000),
    })),
  };
}

/**
 * Reads a rules file (YAML or JSON, told apart by content), validates it and reads each webhook's
 * secret (owner-only file, see `docs/monitor.md`) and CA certificate.
 *
 * @throws {SealtrainError} `ERR_MONITOR_RULES_INVALID` naming the file and the field (a missing,
 *   short or group/world-readable secret file too); `ERR_IO_*` when the rules file cannot be read.
 */
export async function loadAlertRules(path: string): Promise<AlertRules> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw fromFsError(error, 'read the alert rules file', path);
  }
  if (bytes.length > MAX_RULES_BYTES) throw invalid(path, [`larger than ${MAX_RULES_BYTES} bytes`]);
  const file = parseAlertRules(bytes.toString('utf8'), path);
  const webhooks: WebhookTarget[] = [];
  for (const w of file.webhooks) {
    const field = (f: string) => ({ source: path, field: `webhooks.${w.name}.${f}` });
    const secret = await readWebhookSecret(w.secretFile, field('secret_file'));
    const ca = w.caFile === undefined ? undefined : await readCaFile(w.caFile, field('ca_file'));
    webhooks.push({
      name: w.name,
      url: w.url,
      secret,
      ...(ca === undefined ? {} : { ca }),
      retries: w.retries,
      timeoutMs: w.timeoutMs,
    });
  }
  return { source: path, rules: file.rules, webhooks };
}

/** The rules file's JSON Schema (draft 2020-12), as `sealtrain alerts schema` prints it. */
export function alertRulesJsonSchema(): Record<string, unknown> {
  return {
    $id: 'https://sealtrain.dev/schema/alert-rules-v1.json',
    title: 'sealtrain alert rules',
    ...z.toJSONSchema(alertRulesSchema, { io: 'input', unrepresentable: 'any' }),
  };
}
