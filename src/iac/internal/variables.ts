import { evaluateExpression } from './expr.js';
import type { Instance } from './instance.js';
import type { ModuleDef } from './module-def.js';
import type { ParsedFile } from './parse.js';
import { Unknown, type Value } from './values.js';

/** Where a root module's variables come from, besides their defaults. */
export interface VariableSources {
  /** The environment (`TF_VAR_name`). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** `terraform.tfvars`, `*.auto.tfvars`, then each `--var-file`, in Terraform's order (later wins). */
  readonly tfvars: readonly { file: string; values: ParsedFile }[];
}

const noNames = (): Value => new Unknown('a variable value may not refer to other values');

/** A literal value from a `.tfvars` file or a default (no references allowed there). */
function literal(raw: unknown, inst: Instance | undefined): Value {
  if (inst) return inst.evaluate(raw);
  if (typeof raw === 'string' && raw.includes('${')) return new Unknown('an expression in a variable value');
  return raw as Value;
}

/** An environment string converted the way Terraform converts it for the declared type. */
function fromEnv(text: string, type: unknown): Value {
  const t = typeof type === 'string' ? type : '';
  if (/\bbool\b/.test(t))
    return text === 'true' ? true : text === 'false' ? false : new Unknown(`TF_VAR "${text}"`);
  if (/\bnumber\b/.test(t))
    return Number.isFinite(Number(text)) ? Number(text) : new Unknown(`TF_VAR "${text}"`);
  if (/list|set|map|object|tuple/.test(t)) return evaluateExpression(text, noNames);
  return text;
}

/** The root module's variables: defaults, then `TF_VAR_*`, then the tfvars files in order. */
export function rootVariables(def: ModuleDef, sources: VariableSources): Map<string, Value> {
  const out = new Map<string, Value>();
  for (const [name, body] of def.variables) {
    if (Object.hasOwn(body, 'default')) out.set(name, literal(body.default, undefined));
    const env = sources.env[`TF_VAR_${name}`];
    if (env !== undefined) out.set(name, fromEnv(env, body.type));
    for (const f of sources.tfvars)
      if (Object.hasOwn(f.values, name)) out.set(name, literal(f.values[name], undefined));
  }
  return out;
}

/** A called module's variables: the call's arguments (evaluated by the caller), else defaults. */
export function moduleVariables(
  def: ModuleDef,
  args: Record<string, unknown>,
  caller: Instance,
): Map<string, Value> {
  const out = new Map<string, Value>();
  for (const [name, body] of def.variables) {
    if (Object.hasOwn(args, name)) out.set(name, literal(args[name], caller));
    else if (Object.hasOwn(body, 'default')) out.set(name, literal(body.default, undefined));
  }
  return out;
}
