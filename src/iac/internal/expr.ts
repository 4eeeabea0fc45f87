import { lex, type Token } from './expr-lexer.js';
import { callFunction } from './functions.js';
import { evalTemplate } from './template.js';
import {
  asBool,
  asNumber,
  isObjectValue,
  isRef,
  isUnknown,
  type ObjectValue,
  Ref,
  Unknown,
  type Value,
} from './values.js';

/** Resolves a traversal that starts at a root name (`var.x`, `azurerm_subnet.a.id`). */
export type Lookup = (path: readonly (string | number)[]) => Value;

class Fail extends Error {}

/** A recursive-descent evaluator for the expression subset the rules need. */
class Parser {
  #pos = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly lookup: Lookup,
  ) {}

  get #tok(): Token {
    return this.tokens[this.#pos] as Token;
  }
  #next(): Token {
    return this.tokens[this.#pos++] as Token;
  }
  #eat(text: string): boolean {
    if (this.#tok.kind !== 'str' && this.#tok.text === text) {
      this.#pos++;
      return true;
    }
    return false;
  }
  #expect(text: string): void {
    if (!this.#eat(text)) throw new Fail(`expected ${text}`);
  }

  parseAll(): Value {
    const v = this.expr();
    if (this.#tok.kind !== 'end') throw new Fail('trailing tokens');
    return v;
  }

  expr(): Value {
    const cond = this.binary(0);
    if (!this.#eat('?')) return cond;
    const a = this.expr();
    this.#expect(':');
    const b = this.expr();
    const c = asBool(cond);
    if (c === undefined) return new Unknown('a null condition');
    if (c instanceof Unknown) return c;
    return c ? a : b;
  }

  static readonly LEVELS = [
    ['||'],
    ['&&'],
    ['==', '!='],
    ['<', '>', '<=', '>='],
    ['+', '-'],
    ['*', '/', '%'],
  ];

  binary(level: number): Value {
    if (level >= Parser.LEVELS.length) return this.unary();
    let left = this.binary(level + 1);
    const ops = Parser.LEVELS[level] as string[];
    while (this.#tok.kind === 'op' && ops.includes(this.#tok.text)) {
      const op = this.#next().text;
      left = applyBinary(op, left, this.binary(level + 1));
    }
    return left;
  }

  unary(): Value {
    if (this.#eat('!')) {
      const v = asBool(this.unary());
      return v === undefined ? new Unknown('!null') : v instanceof Unknown ? v : !v;
    }
    if (this.#eat('-')) {
      const v = asNumber(this.unary());
      return v === undefined ? new Unknown('-null') : v instanceof Unknown ? v : -v;
    }
    return this.postfix(this.primary());
  }

  postfix(base: Value): Value {
    let v = base;
    for (;;) {
      if (this.#eat('.')) {
        if (this.#eat('*')) v = new Unknown('a splat expression');
        else v = index(v, this.#next().text, false);
      } else if (this.#tok.text === '[' && this.#tok.kind === 'op') {
        this.#next();
        if (this.#eat('*')) {
          this.#expect(']');
          v = new Unknown('a splat expression');
          continue;
        }
        const key = this.expr();
        this.#expect(']');
        v =
          typeof key === 'string' || typeof key === 'number'
            ? index(v, key, true)
            : new Unknown('a computed index');
      } else return v;
    }
  }

  primary(): Value {
    const t = this.#next();
    if (t.kind === 'num') return Number(t.text);
    if (t.kind === 'str') return evalTemplate(t.text, (s) => evaluateExpression(s, this.lookup), true);
    if (t.kind === 'id') return this.identifier(t.text);
    if (t.text === '(') {
      const v = this.expr();
      this.#expect(')');
      return v;
    }
    if (t.text === '[') return this.list();
    if (t.text === '{') return this.object();
    if (t.text === '<' && this.#tok.text === '<') throw new Fail('heredoc');
    throw new Fail(`unexpected ${t.text}`);
  }

  identifier(name: string): Value {
    if (name === 'true' || name === 'false') return name === 'true';
    if (name === 'null') return null;
    if (this.#eat('(')) return this.call(name);
    const path: (string | number)[] = [name];
    while (this.#tok.text === '.' && this.tokens[this.#pos + 1]?.kind === 'id') {
      this.#next();
      path.push(this.#next().text);
    }
    return this.lookup(path);
  }

  call(name: string): Value {
    const args: Value[] = [];
    while (!this.#eat(')')) {
      args.push(this.expr());
      if (this.#eat('...')) return new Unknown('argument expansion');
      if (!this.#eat(',')) {
        this.#expect(')');
        break;
      }
    }
    return callFunction(name, args);
  }

  list(): Value {
    if (this.#tok.text === 'for') return this.skipFor(']');
    const items: Value[] = [];
    while (!this.#eat(']')) {
      items.push(this.expr());
      if (!this.#eat(',')) {
        this.#expect(']');
        break;
      }
    }
    return items;
  }

  object(): Value {
    if (this.#tok.text === 'for') return this.skipFor('}');
    const out: ObjectValue = {};
    let unknownKey = false;
    while (!this.#eat('}')) {
      const k = this.#tok.kind === 'id' ? this.#next().text : this.expr();
      if (!this.#eat('=')) this.#expect(':');
      const v = this.expr();
      if (typeof k === 'string') out[k] = v;
      else unknownKey = true;
      this.#eat(',');
    }
    return unknownKey ? new Unknown('an object with a computed key') : out;
  }

  skipFor(close: string): Value {
    let depth = 1;
    while (depth > 0 && this.#tok.kind !== 'end') {
      const t = this.#next();
      if (t.kind !== 'op') continue;
      if (t.text === '[' || t.text === '{' || t.text === '(') depth++;
      else if (t.text === ']' || t.text === '}' || t.text === ')') depth--;
    }
    void close;
    return new Unknown('a for expression');
  }
}

/**
 * Indexes into a value (`.name`, `[0]`, `["k"]`). On a whole resource, a bracket picks a
 * `count`/`for_each` instance (the same resource to the rules) and a dot names an attribute.
 */
export function index(v: Value, key: string | number, bracket = false): Value {
  if (isUnknown(v)) return v;
  if (isRef(v) && v.attr === '') return bracket ? v : new Ref(v.address, String(key));
  if (isRef(v)) return new Unknown(`${v.address}.${v.attr} is known only after apply`);
  if (Array.isArray(v)) {
    const i = typeof key === 'number' ? key : Number(key);
    return Number.isInteger(i) && i >= 0 && i < v.length ? (v[i] as Value) : new Unknown(`index ${key}`);
  }
  if (isObjectValue(v) && Object.hasOwn(v, String(key))) return v[String(key)] as Value;
  return new Unknown(`no attribute ${key}`);
}

function equal(a: Value, b: Value): boolean | Unknown {
  if (isUnknown(a)) return a;
  if (isUnknown(b)) return b;
  if (isRef(a) || isRef(b)) {
    if (isRef(a) && isRef(b) && a.address === b.address && a.attr === b.attr) return true;
    return new Unknown('comparing a value known only after apply');
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

function applyBinary(op: string, a: Value, b: Value): Value {
  if (op === '==' || op === '!=') {
    const e = equal(a, b);
    return e instanceof Unknown ? e : op === '==' ? e : !e;
  }
  if (op === '&&' || op === '||') {
    const x = asBool(a);
    const y = asBool(b);
    if (op === '&&' && (x === false || y === false)) return false;
    if (op === '||' && (x === true || y === true)) return true;
    if (typeof x === 'boolean' && typeof y === 'boolean') return op === '&&' ? x && y : x || y;
    return x instanceof Unknown ? x : y instanceof Unknown ? y : new Unknown(`null in ${op}`);
  }
  const x = asNumber(a);
  const y = asNumber(b);
  if (typeof x !== 'number') return x instanceof Unknown ? x : new Unknown(`null in ${op}`);
  if (typeof y !== 'number') return y instanceof Unknown ? y : new Unknown(`null in ${op}`);
  const table: Record<string, () => Value> = {
    '<': () => x < y,
    '>': () => x > y,
    '<=': () => x <= y,
    '>=': () => x >= y,
    '+': () => x + y,
    '-': () => x - y,
    '*': () => x * y,
    '/': () => x / y,
    '%': () => x % y,
  };
  return (table[op] as () => Value)();
}

/**
 * Evaluates one HCL expression (the text inside `${…}`) with `lookup` for names. What this
 * subset does not cover (for expressions, splats, heredocs, unknown functions) is {@link Unknown}.
 */
export function evaluateExpression(source: string, lookup: Lookup): Value {
  try {
    return new Parser(lex(source), lookup).parseAll();
  } catch (e) {
    if (e instanceof Fail)
      return new Unknown(`an expression this scanner does not evaluate (${source.trim()})`);
    throw e;
  }
}
