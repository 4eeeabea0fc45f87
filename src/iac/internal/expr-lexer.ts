import { stringEnd } from './template.js';

/** One token of an HCL expression. */
export type Token = { kind: 'num' | 'str' | 'id' | 'op' | 'end'; text: string };

const OPS = ['==', '!=', '<=', '>=', '&&', '||', '=>', '...'];

/** Splits an HCL expression into tokens; strings keep their raw text (templates are evaluated later). */
export function lex(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (/\s/.test(c)) i++;
    else if (c === '#' || (c === '/' && src[i + 1] === '/')) while (i < src.length && src[i] !== '\n') i++;
    else if (c === '"') {
      const end = stringEnd(src, i);
      out.push({ kind: 'str', text: src.slice(i + 1, end) });
      i = end + 1;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(src.slice(i)) as RegExpExecArray;
      out.push({ kind: 'num', text: m[0] });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(src.slice(i)) as RegExpExecArray;
      out.push({ kind: 'id', text: m[0] });
      i += m[0].length;
    } else {
      const op = OPS.find((o) => src.startsWith(o, i)) ?? c;
      out.push({ kind: 'op', text: op });
      i += op.length;
    }
  }
  out.push({ kind: 'end', text: '' });
  return out;
}
