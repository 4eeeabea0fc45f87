import { SealtrainError } from '../errors/index.js';

/** Accepted findings: each is `rule`, `resource` address and `file`, as the scan printed them. */
export interface Baseline {
  readonly version: 1;
  readonly findings: readonly { readonly rule: string; readonly resource: string; readonly file: string }[];
}

/** The key a baseline entry and a finding share. */
export const fingerprint = (f: { rule: string; resource: string; file: string }): string =>
  `${f.rule}|${f.resource}|${f.file}`;

/** Parses a baseline file's text; `ERR_IAC_BASELINE_INVALID` names what is wrong. */
export function parseBaseline(text: string, path: string): Baseline {
  const bad = (why: string) =>
    new SealtrainError('ERR_IAC_BASELINE_INVALID', `The baseline ${path} is invalid: ${why}.`, {
      details: { path },
    });
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (cause) {
    throw bad(`not JSON (${(cause as Error).message})`);
  }
  const o = v as { version?: unknown; findings?: unknown };
  if (typeof v !== 'object' || v === null || o.version !== 1) throw bad('"version" must be 1');
  if (!Array.isArray(o.findings)) throw bad('"findings" must be a list');
  o.findings.forEach((f: unknown, i) => {
    const e = f as Record<string, unknown>;
    for (const k of ['rule', 'resource', 'file'])
      if (typeof e?.[k] !== 'string') throw bad(`findings[${i}].${k} must be a string`);
  });
  return v as Baseline;
}

/** A baseline that accepts the given findings. */
export function makeBaseline(
  findings: readonly { ruleId: string; resource: string; file: string }[],
): Baseline {
  const seen = new Set<string>();
  const out: { rule: string; resource: string; file: string }[] = [];
  for (const f of findings) {
    const e = { rule: f.ruleId, resource: f.resource, file: f.file };
    if (!seen.has(fingerprint(e))) out.push(e);
    seen.add(fingerprint(e));
  }
  return { version: 1, findings: out };
}
