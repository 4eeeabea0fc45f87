import {
  asBool,
  asNumber,
  asString,
  isObjectValue,
  isUnknown,
  type ObjectValue,
  Unknown,
  type Value,
} from './values.js';

type Fn = (args: Value[]) => Value;

const firstUnknown = (args: Value[]): Unknown | undefined => args.find(isUnknown) as Unknown | undefined;

const str =
  (f: (s: string) => Value): Fn =>
  ([a]) => {
    const s = asString(a);
    return typeof s === 'string' ? f(s) : (s ?? new Unknown('null string'));
  };

const FUNCTIONS: Record<string, Fn> = {
  jsonencode: ([a]) => a ?? null,
  jsondecode: ([a]) => {
    if (typeof a !== 'string') return new Unknown('jsondecode of a non-string');
    try {
      return JSON.parse(a) as Value;
    } catch {
      return new Unknown('jsondecode of invalid JSON');
    }
  },
  lower: str((s) => s.toLowerCase()),
  upper: str((s) => s.toUpperCase()),
  trimspace: str((s) => s.trim()),
  tostring: ([a]) => asString(a) ?? null,
  tobool: ([a]) => asBool(a) ?? null,
  tonumber: ([a]) => asNumber(a) ?? null,
  tolist: ([a]) => a ?? null,
  toset: ([a]) => a ?? null,
  tomap: ([a]) => a ?? null,
  length: ([a]) => {
    if (Array.isArray(a)) return a.length;
    if (typeof a === 'string') return a.length;
    if (isObjectValue(a)) return Object.keys(a).length;
    return isUnknown(a) ? a : new Unknown('length of a value known only after apply');
  },
  contains: ([list, item]) => {
    if (!Array.isArray(list)) return isUnknown(list) ? list : new Unknown('contains on a non-list');
    if (isUnknown(item)) return item;
    return list.some((x) => JSON.stringify(x) === JSON.stringify(item));
  },
  concat: (args) =>
    firstUnknown(args) ?? (args.every(Array.isArray) ? (args as Value[][]).flat() : new Unknown('concat')),
  merge: (args) =>
    firstUnknown(args) ??
    (args.every(isObjectValue) ? Object.assign({}, ...(args as ObjectValue[])) : new Unknown('merge')),
  coalesce: (args) => {
    for (const a of args) {
      if (isUnknown(a)) return a;
      if (a !== null && a !== '') return a;
    }
    return null;
  },
  try: (args) => args.find((a) => !isUnknown(a)) ?? new Unknown('try() with no known argument'),
  lookup: ([map, key, fallback]) => {
    if (!isObjectValue(map) || typeof key !== 'string')
      return firstUnknown([map ?? null, key ?? null]) ?? new Unknown('lookup');
    return Object.hasOwn(map, key)
      ? (map[key] as Value)
      : (fallback ?? new Unknown(`lookup of missing key ${key}`));
  },
};

/** Calls a Terraform function from the small set the scanner evaluates; others are unknown. */
export function callFunction(name: string, args: Value[]): Value {
  const f = FUNCTIONS[name];
  if (!f) return new Unknown(`function ${name}()`);
  return f(args);
}
