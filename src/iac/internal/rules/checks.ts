import { type Block, UnknownBlock } from '../block.js';
import type { Graph } from '../graph.js';
import type { Resource } from '../resource.js';
import { fail, pass, type Status, unknown, type Verdict, warn } from '../rule.js';
import { asBool, asList, asString, isRef, isUnknown, Unknown } from '../values.js';

const verdict = (status: Status, message: string, attr?: string): Verdict =>
  ({ pass, fail, warn, unknown })[status](message, attr);

/** Options of {@link expectBool}. */
export interface BoolExpectation {
  /** The secure value. */
  readonly want: boolean;
  /** The verdict when the attribute is absent (from the provider's default). */
  readonly missing: Status;
  /** Why the missing verdict is what it is (the default). */
  readonly missingNote?: string;
}

/** Checks a bool attribute against the secure value; absent gives `missing`. */
export function expectBool(b: Block, attr: string, e: BoolExpectation): Verdict {
  const v = b.get(attr);
  if (v === undefined || v === null)
    return verdict(e.missing, `${attr} is not set${e.missingNote ? ` (${e.missingNote})` : ''}`, attr);
  const x = asBool(v);
  if (x instanceof Unknown) return unknown(`${attr} cannot be resolved: ${x.reason}`, attr);
  return x === e.want ? pass(`${attr} = ${x}`, attr) : fail(`${attr} = ${x}; set it to ${e.want}`, attr);
}

/** Whether nested blocks of a name are there: true, false, or unknown (a dynamic or computed block). */
export function presence(b: Block, name: string): boolean | Unknown {
  const blocks = b.blocks(name);
  const u = blocks.find((x) => x instanceof UnknownBlock);
  if (u instanceof UnknownBlock) return u.reason;
  return blocks.length > 0;
}

/** Whether an attribute holds a value (a reference counts): true, false or unknown. */
export function isSet(b: Block, attr: string): boolean | Unknown {
  const v = b.get(attr);
  if (v === undefined || v === null || v === '') return false;
  if (isRef(v)) return true;
  if (isUnknown(v)) return v.reason.includes('has no value') ? new Unknown(v.reason) : true;
  return true;
}

/** A string attribute, or unknown; undefined when absent. */
export function str(b: Block, attr: string): string | Unknown | undefined {
  return asString(b.get(attr));
}

/** The subresources of the private endpoints that point at a resource. */
export function endpointSubresources(r: Resource, g: Graph): { count: number; names: Set<string> } | Unknown {
  const links = g.endpoints.of(r.address);
  const names = new Set<string>();
  for (const l of links) {
    const list = asList(l.subresources);
    if (list instanceof Unknown) return list;
    for (const x of list ?? []) {
      const s = asString(x);
      if (s instanceof Unknown) return s;
      if (s) names.add(s.toLowerCase());
    }
  }
  return { count: links.length, names };
}

/** A private-endpoint rule: a PE pointing at the resource with the given subresource. */
export function expectEndpoint(r: Resource, g: Graph, subresource: string): Verdict {
  const found = endpointSubresources(r, g);
  if (found instanceof Unknown)
    return unknown(`a private endpoint's subresource_names cannot be resolved: ${found.reason}`);
  if (found.names.has(subresource)) return pass(`a private endpoint connects to "${subresource}"`);
  if (found.count > 0) return fail(`private endpoints exist but none for subresource "${subresource}"`);
  if (g.endpoints.unresolved > 0)
    return unknown(
      `no private endpoint found; ${g.endpoints.unresolved} private endpoint(s) point at resources this scan cannot resolve`,
    );
  return fail(`no azurerm_private_endpoint points at ${r.address} (subresource "${subresource}")`);
}

/** A diagnostic-settings rule: a setting whose target is the resource. */
export function expectDiagnostics(r: Resource, g: Graph): Verdict {
  const found = g.diagnostics.of(r.address);
  if (found.length > 0) return pass(`diagnostic setting ${found[0]} targets it`);
  if (g.diagnostics.unresolved > 0)
    return unknown(
      `no diagnostic setting found; ${g.diagnostics.unresolved} setting(s) target resources this scan cannot resolve`,
    );
  return fail(`no azurerm_monitor_diagnostic_setting targets ${r.address}`);
}

/** The verdict for a list of missing pieces: pass when none. */
export function allOf(
  missing: readonly string[],
  unknowns: readonly string[],
  ok: string,
  attr?: string,
): Verdict {
  if (missing.length > 0) return fail(`missing: ${missing.join('; ')}`, attr);
  if (unknowns.length > 0) return unknown(`cannot be resolved: ${unknowns.join('; ')}`, attr);
  return pass(ok, attr);
}
