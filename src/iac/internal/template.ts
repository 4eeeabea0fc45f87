import { isObjectValue, isRef, isUnknown, Unknown, type Value } from './values.js';

/**
 * A reference inside a string template (`"${azurerm_storage_account.a.id}/blobServices/default"`)
 * is kept as a marker in the string, so relations can still find the resource it names.
 */
export const refMarker = (ref: { address: string; attr: string }): string =>
  `\u{E000}${ref.address}.${ref.attr}\u{E001}`;

/** The first reference marker in a string: the resource address and attribute. */
export function markedRef(text: string): { address: string; attr: string } | undefined {
  const m = /\u{E000}(.+?)\.([^.\u{E001}]*)\u{E001}/u.exec(text);
  return m ? { address: m[1] as string, attr: m[2] as string } : undefined;
}

/** Evaluates the source of one expression in a scope. */
export type EvalExpression = (source: string) => Value;

/** Where an interpolation that starts at `open` (the index of `${`) ends: the index of its `}`. */
export function interpolationEnd(text: string, open: number): number {
  let depth = 0;
  for (let i = open + 1; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      i = stringEnd(text, i);
      continue;
    }
    if (c === '{') depth++;
    else if (c === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/** The index of the quote that closes the string opened at `open`. */
export function stringEnd(text: string, open: number): number {
  for (let i = open + 1; i < text.length; i++) {
    const c = text[i];
    if (c === '\\') i++;
    else if (c === '$' && text[i + 1] === '{') {
      const end = interpolationEnd(text, i);
      if (end < 0) return text.length;
      i = end;
    } else if (c === '"') return i;
  }
  return text.length;
}

const ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', '"': '"', '\\': '\\' };

function unescapeText(text: string): string {
  return text.replace(/\\(.)/g, (_, c: string) => ESCAPES[c] ?? c);
}

function joinPart(v: Value): string | Unknown {
  if (isUnknown(v)) return v;
  if (isRef(v)) return refMarker(v);
  if (v === null) return new Unknown('null in a string template');
  if (Array.isArray(v) || isObjectValue(v)) return new Unknown('a list or object in a string template');
  return String(v);
}

/**
 * Evaluates a string template (`"a-${var.x}"`). A template that is exactly one interpolation
 * keeps the value's type, as Terraform does. `escaped` says whether literal parts still carry
 * HCL escapes (true inside expression source, false for the parser's JSON output).
 */
export function evalTemplate(text: string, evaluate: EvalExpression, escaped: boolean): Value {
  const parts: Value[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('$${', i) || text.startsWith('%%{', i)) {
      literal += text.slice(i + 1, i + 3);
      i += 3;
      continue;
    }
    if (text.startsWith('%{', i)) return new Unknown('a template directive (%{…})');
    if (!text.startsWith('${', i)) {
      literal += text[i];
      i++;
      continue;
    }
    const end = interpolationEnd(text, i);
    if (end < 0) return new Unknown('an unterminated interpolation');
    if (literal) parts.push(escaped ? unescapeText(literal) : literal);
    literal = '';
    const inner = text
      .slice(i + 2, end)
      .replace(/^~/, '')
      .replace(/~$/, '');
    parts.push(evaluate(inner));
    i = end + 1;
  }
  if (literal) parts.push(escaped ? unescapeText(literal) : literal);
  if (parts.length === 1 && literal === '' && text.startsWith('${')) return parts[0] as Value;
  let out = '';
  for (const p of parts) {
    const s = joinPart(p);
    if (s instanceof Unknown) return s;
    out += s;
  }
  return out;
}
