import type { Block } from '../block.js';
import { asList, asString, isUnknown, Unknown, type Value } from '../values.js';

/** Three-valued truth: a rule field may be unknown. */
export type Tri = boolean | Unknown;

/** True for every spelling of "from anywhere": `*`, `0.0.0.0`, any `/0` (incl. `::/0`), `Internet`, `Any`. */
export function isInternetSource(s: string): boolean {
  const v = s.trim().toLowerCase();
  return v === '*' || v === '0.0.0.0' || v === 'internet' || v === 'any' || /\/0$/.test(v);
}

/** Singular and plural forms of a rule field, as one list. */
function values(rule: Block, singular: string, plural: string): string[] | Unknown {
  const out: string[] = [];
  for (const v of [rule.get(singular), rule.get(plural)]) {
    const list = Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
    if (isUnknown(asList(list))) return asList(list) as Unknown;
    for (const x of list as Value[]) {
      const s = asString(x);
      if (s instanceof Unknown) return s;
      if (s !== undefined) out.push(s);
    }
  }
  return out;
}

const eq = (v: Value | undefined, want: string): Tri => {
  const s = asString(v);
  if (s instanceof Unknown) return s;
  return s?.toLowerCase() === want.toLowerCase();
};

/** Whether a port spec (`22`, `20-30`, `*`) includes the port; undefined port = any port at all. */
function portCovers(spec: string, port: number | undefined): boolean {
  const s = spec.trim();
  if (s === '*' || port === undefined) return true;
  const m = /^(\d+)\s*-\s*(\d+)$/.exec(s);
  if (m) return Number(m[1]) <= port && port <= Number(m[2]);
  return Number(s) === port;
}

function and(...xs: Tri[]): Tri {
  if (xs.some((x) => x === false)) return false;
  const u = xs.find((x) => x instanceof Unknown);
  return u ?? true;
}

/** What an internet-facing rule opens: ports and protocols. */
export interface Exposure {
  readonly ports: string[];
  readonly protocol: string;
}

/** Whether one security rule allows inbound traffic from the internet (to `port`, with one of `protocols`). */
export function allowsFromInternet(rule: Block, port: number | undefined, protocols: readonly string[]): Tri {
  const sources = values(rule, 'source_address_prefix', 'source_address_prefixes');
  const ports = values(rule, 'destination_port_range', 'destination_port_ranges');
  const protocol = asString(rule.get('protocol'));
  return and(
    eq(rule.get('access'), 'Allow'),
    eq(rule.get('direction'), 'Inbound'),
    protocol instanceof Unknown
      ? protocol
      : protocols.some((p) => p.toLowerCase() === (protocol ?? '').toLowerCase()),
    sources instanceof Unknown ? sources : sources.some(isInternetSource),
    ports instanceof Unknown ? ports : ports.some((p) => portCovers(p, port)),
  );
}

/** The destination ports of a rule, for messages. */
export function portsOf(rule: Block): string {
  const p = values(rule, 'destination_port_range', 'destination_port_ranges');
  return p instanceof Unknown ? '?' : p.join(',');
}
