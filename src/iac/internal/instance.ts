import { evaluateExpression, index } from './expr.js';
import type { ModuleDef, RawResource } from './module-def.js';
import { evalTemplate } from './template.js';
import { isUnknown, Ref, Unknown, type Value } from './values.js';

/**
 * One instantiation of a folder: the root, or a `module` call with its own variables. It
 * evaluates the parser's JSON values (strings with `${…}`) in its scope.
 */
export class Instance {
  readonly children = new Map<string, Instance>();
  readonly #locals = new Map<string, Value>();
  readonly #busy = new Set<string>();
  readonly #resources = new Map<string, RawResource>();

  constructor(
    readonly def: ModuleDef,
    /** `''` for the root, else `module.a.module.b.` */
    readonly prefix: string,
    readonly vars: ReadonlyMap<string, Value>,
  ) {
    for (const r of def.resources) if (r.mode === 'resource') this.#resources.set(`${r.type}.${r.name}`, r);
  }

  /** Evaluates a value as the parser gave it. */
  evaluate(raw: unknown): Value {
    if (typeof raw === 'string')
      return evalTemplate(raw, (src) => evaluateExpression(src, (p) => this.lookup(p)), false);
    if (raw === null || typeof raw === 'number' || typeof raw === 'boolean') return raw;
    if (Array.isArray(raw)) return raw.map((x) => this.evaluate(x));
    if (typeof raw === 'object') {
      const out: Record<string, Value> = {};
      for (const [k, v] of Object.entries(raw)) out[k] = this.evaluate(v);
      return out;
    }
    return new Unknown('an unsupported value');
  }

  /** Resolves a traversal: `var.x`, `local.y`, `module.m.out`, `azurerm_x.y.attr`. */
  lookup(path: readonly (string | number)[]): Value {
    const [root, first, ...rest] = path.map(String);
    const more = (v: Value, from: readonly string[]): Value =>
      from.reduce<Value>((acc, k) => index(acc, k), v);
    if (first === undefined) return new Unknown(`${root} is not something this scanner evaluates`);
    switch (root) {
      case 'var':
        return more(this.vars.get(first) ?? new Unknown(`var.${first} has no value`), rest);
      case 'local':
        return more(this.#local(first), rest);
      case 'module':
        return this.#moduleOutput(first, rest);
      case 'data':
        return new Unknown(`data.${first} is read only at plan time`);
      default:
        return this.#resource(`${root}.${first}`, rest);
    }
  }

  #resource(key: string, rest: readonly string[]): Value {
    const r = this.#resources.get(key);
    if (!r) return new Unknown(`${key} is not declared here`);
    const [attr = '', ...tail] = rest;
    if (attr === '' || attr === 'id' || !Object.hasOwn(r.body, attr)) return new Ref(this.prefix + key, attr);
    const value = this.#guard(`resource ${key}.${attr}`, () => this.evaluate(r.body[attr]));
    // What cannot be worked out here is still that resource's attribute (for relations).
    if (isUnknown(value)) return tail.length === 0 ? new Ref(this.prefix + key, attr) : value;
    return tail.reduce<Value>((acc, k) => index(acc, k), value);
  }

  #local(name: string): Value {
    const cached = this.#locals.get(name);
    if (cached !== undefined) return cached;
    if (!this.def.locals.has(name)) return new Unknown(`local.${name} is not declared`);
    const v = this.#guard(`local ${name}`, () => this.evaluate(this.def.locals.get(name)));
    this.#locals.set(name, v);
    return v;
  }

  #moduleOutput(name: string, rest: readonly string[]): Value {
    const child = this.children.get(name);
    const [out, ...tail] = rest;
    if (!child) return new Unknown(`module.${name} is not followed (not a local module)`);
    if (out === undefined || !child.def.outputs.has(out))
      return new Unknown(`module.${name}.${out} is not an output`);
    return child.#guard(`output ${out}`, () =>
      tail.reduce<Value>((acc, k) => index(acc, k), child.evaluate(child.def.outputs.get(out))),
    );
  }

  #guard(key: string, f: () => Value): Value {
    if (this.#busy.has(key)) return new Unknown(`a reference cycle through ${key}`);
    this.#busy.add(key);
    try {
      return f();
    } finally {
      this.#busy.delete(key);
    }
  }
}
