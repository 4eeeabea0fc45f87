/** An inline suppression: `# sealtrain:ignore WS-01,WS-03 the reason`. */
export interface Suppression {
  readonly ids: readonly string[];
  /** Empty when the comment gives none (then it suppresses nothing). */
  readonly reason: string;
  readonly line: number;
}

/** Lines of one file's resources and their attributes, and its suppressions. */
export interface FilePositions {
  /** `type.name` → line of the block header. */
  readonly resources: Map<string, number>;
  /** `type.name` → attribute path (`network_rules.default_action`) → line. */
  readonly attributes: Map<string, Map<string, number>>;
  /** `type.name` → suppressions inside or right above the block. */
  readonly suppressions: Map<string, Suppression[]>;
}

const HEADER = /^\s*resource\s+"([^"]+)"\s+"([^"]+)"\s*\{/;
const IGNORE = /(?:#|\/\/)\s*sealtrain:ignore\s+([A-Za-z]+-\d+[a-z]?(?:\s*,\s*[A-Za-z]+-\d+[a-z]?)*)(.*)$/;

/** The line without strings and comments, for counting braces. */
function code(line: string): string {
  return line
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/(#|\/\/).*$/, '')
    .trim();
}

function suppressionOf(line: string, n: number): Suppression | undefined {
  const m = IGNORE.exec(line);
  if (!m) return undefined;
  const ids = (m[1] ?? '').split(',').map((s) => s.trim().toUpperCase());
  return { ids, reason: (m[2] ?? '').trim(), line: n };
}

const BLOCK = /^\s*([A-Za-z_][\w-]*)\s*(?:"[^"]*"\s*)*\{/;
const ATTR = /^\s*([A-Za-z_][\w-]*)\s*=/;

/** The net number of braces a line opens (negative when it closes more). */
function netBraces(line: string): number {
  const c = code(line);
  return (c.match(/\{/g) ?? []).length - (c.match(/\}/g) ?? []).length;
}

/** Walks one resource's lines: attribute paths → line; the nested block names on a stack. */
class ResourceWalk {
  readonly stack: string[] = [];
  constructor(readonly attrs: Map<string, number>) {}

  /** Records the line; false once the resource's closing brace is reached. */
  line(text: string, n: number): boolean {
    const named = BLOCK.exec(text)?.[1] ?? ATTR.exec(text)?.[1];
    if (named !== undefined) {
      const path = [...this.stack, named].join('.');
      if (!this.attrs.has(path)) this.attrs.set(path, n);
    }
    const net = netBraces(text);
    for (let k = 0; k < net; k++) this.stack.push(k === 0 ? (BLOCK.exec(text)?.[1] ?? '') : '');
    for (let k = 0; k < -net; k++) if (this.stack.pop() === undefined) return false;
    return true;
  }
}

/** A line scan of HCL: resource headers, attributes and suppression comments. */
function scanHcl(text: string): FilePositions {
  const out: FilePositions = { resources: new Map(), attributes: new Map(), suppressions: new Map() };
  let walk: ResourceWalk | undefined;
  let key = '';
  let pending: Suppression[] = [];
  let heredoc: string | undefined;
  text.split('\n').forEach((line, i) => {
    const n = i + 1;
    if (heredoc !== undefined) {
      if (line.trim() === heredoc) heredoc = undefined;
      return;
    }
    heredoc = /<<-?([A-Za-z_]+)\s*$/.exec(line)?.[1];
    const s = suppressionOf(line, n);
    const header = walk === undefined ? HEADER.exec(line) : null;
    if (header) {
      key = `${header[1]}.${header[2]}`;
      out.resources.set(key, n);
      out.attributes.set(key, new Map());
      out.suppressions.set(key, [...pending, ...(s ? [s] : [])]);
      pending = [];
      walk =
        netBraces(line) > 0 ? new ResourceWalk(out.attributes.get(key) as Map<string, number>) : undefined;
    } else if (walk !== undefined) {
      if (s) out.suppressions.get(key)?.push(s);
      if (!walk.line(line, n)) walk = undefined;
    } else if (s) pending.push(s);
    else if (line.trim() !== '' && !/^\s*(#|\/\/)/.test(line)) pending = [];
  });
  return out;
}

/** JSON files have no comments: only the line of each resource's name key. */
function scanJson(text: string): FilePositions {
  const out: FilePositions = { resources: new Map(), attributes: new Map(), suppressions: new Map() };
  const lines = text.split('\n');
  let type: string | undefined;
  lines.forEach((line, i) => {
    for (const m of line.matchAll(/"([A-Za-z0-9_-]+)"\s*:\s*[{[]/g)) {
      const key = m[1] as string;
      if (/^(azurerm|azapi)_/.test(key)) type = key;
      else if (type && !out.resources.has(`${type}.${key}`)) out.resources.set(`${type}.${key}`, i + 1);
    }
  });
  return out;
}

/** Positions and suppressions of a file, by its kind. */
export function scanPositions(path: string, text: string): FilePositions {
  return path.endsWith('.json') ? scanJson(text) : scanHcl(text);
}
