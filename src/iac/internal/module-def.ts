import { posix } from 'node:path';
import { asArray, type ParsedFile } from './parse.js';

/** A `resource` or `data` block as parsed, with the file it came from. */
export interface RawResource {
  readonly mode: 'resource' | 'data';
  readonly type: string;
  readonly name: string;
  readonly body: Record<string, unknown>;
  readonly file: string;
}

/** A `module` call. */
export interface RawModuleCall {
  readonly name: string;
  readonly body: Record<string, unknown>;
  readonly file: string;
}

/** Everything one folder of `.tf` files declares. */
export interface ModuleDef {
  readonly dir: string;
  readonly files: string[];
  readonly variables: Map<string, Record<string, unknown>>;
  readonly locals: Map<string, unknown>;
  readonly outputs: Map<string, unknown>;
  readonly resources: RawResource[];
  readonly calls: RawModuleCall[];
  /** The `required_providers.azurerm.version` constraint, when declared here. */
  azurermVersion: string | undefined;
  /** Parsed `.tfvars` files of this folder, in Terraform's loading order. */
  readonly tfvars: { file: string; values: ParsedFile }[];
}

/** A new, empty folder. */
export function emptyModule(dir: string): ModuleDef {
  return {
    dir,
    files: [],
    variables: new Map(),
    locals: new Map(),
    outputs: new Map(),
    resources: [],
    calls: [],
    azurermVersion: undefined,
    tfvars: [],
  };
}

function addBlocks(def: ModuleDef, file: string, parsed: ParsedFile, mode: 'resource' | 'data'): void {
  const byType = parsed[mode];
  if (typeof byType !== 'object' || byType === null) return;
  for (const [type, byName] of Object.entries(byType as Record<string, unknown>)) {
    if (typeof byName !== 'object' || byName === null) continue;
    for (const [name, bodies] of Object.entries(byName as Record<string, unknown>))
      for (const body of asArray(bodies)) def.resources.push({ mode, type, name, body, file });
  }
}

function named(parsed: ParsedFile, key: string): [string, Record<string, unknown>][] {
  const all = parsed[key];
  if (typeof all !== 'object' || all === null) return [];
  return Object.entries(all as Record<string, unknown>).flatMap(([name, v]) =>
    asArray(v).map((body) => [name, body] as [string, Record<string, unknown>]),
  );
}

function azurermConstraint(parsed: ParsedFile): string | undefined {
  for (const tf of asArray(parsed.terraform))
    for (const rp of asArray(tf.required_providers)) {
      const az = rp.azurerm;
      if (typeof az === 'string') return az;
      const v = asArray(az)[0]?.version;
      if (typeof v === 'string') return v;
    }
  return undefined;
}

/** Adds one parsed `.tf`/`.tf.json` file's declarations to its folder. */
export function addFile(def: ModuleDef, file: string, parsed: ParsedFile): void {
  def.files.push(file);
  addBlocks(def, file, parsed, 'resource');
  addBlocks(def, file, parsed, 'data');
  for (const [name, body] of named(parsed, 'variable')) def.variables.set(name, body);
  for (const [name, body] of named(parsed, 'output')) def.outputs.set(name, body.value);
  for (const [name, body] of named(parsed, 'module')) def.calls.push({ name, body, file });
  for (const block of asArray(parsed.locals))
    for (const [k, v] of Object.entries(block)) def.locals.set(k, v);
  def.azurermVersion ??= azurermConstraint(parsed);
}

/** The folder a file belongs to. */
export const dirOf = (path: string): string => posix.dirname(path.replaceAll('\\', '/'));

/** The folder a local module source (`./net`, `../shared`) points at, or undefined for remote sources. */
export function localSource(dir: string, source: unknown): string | undefined {
  if (typeof source !== 'string' || !/^\.\.?\//.test(source)) return undefined;
  return posix.normalize(posix.join(dir, source)).replace(/\/$/, '');
}

/**
 * The azurerm major version a constraint selects: `~> 3.100`, `= 3.1.0`, `>= 3.0, < 4.0` give 3;
 * an open-ended `>= 3.0` and no constraint give the newest major the rules know (4).
 */
export function azurermMajor(constraint: string | undefined): number {
  const LATEST = 4;
  if (!constraint) return LATEST;
  let upper: number | undefined;
  for (const part of constraint.split(',')) {
    const m = /^\s*(~>|=|!=|>=|<=|>|<)?\s*v?(\d+)(?:\.(\d+))?/.exec(part);
    if (!m) continue;
    const [op = '=', major, minor] = [m[1], Number(m[2]), m[3]];
    if (op === '~>' || op === '=') return major;
    if (op === '<') upper = minor === undefined || Number(minor) === 0 ? major - 1 : major;
    if (op === '<=') upper = major;
  }
  return upper !== undefined ? Math.min(upper, LATEST) : LATEST;
}
