import { Graph } from './graph.js';
import type { Resource } from './resource.js';
import type { Rule, Verdict } from './rule.js';

/** One rule's verdict on one resource. */
export interface RawResult {
  readonly rule: Rule;
  readonly resource: Resource;
  readonly verdict: Verdict;
}

function run(rule: Rule, resource: Resource, graph: Graph, out: RawResult[]): void {
  const verdict = rule.check(resource, graph);
  if (verdict) out.push({ rule, resource, verdict });
}

/**
 * Runs every rule on every resource of its types; the late rules (WS-10) run last and see which
 * rules failed on each resource.
 */
export function runRules(resources: readonly Resource[], rules: readonly Rule[]): RawResult[] {
  const graph = new Graph(resources);
  const byType = new Map<string, Rule[]>();
  for (const rule of rules) for (const t of rule.types) byType.set(t, [...(byType.get(t) ?? []), rule]);
  const out: RawResult[] = [];
  for (const resource of resources)
    for (const rule of byType.get(resource.type) ?? []) if (!rule.late) run(rule, resource, graph, out);
  for (const r of out)
    if (r.verdict.status === 'fail')
      graph.failures.set(r.resource.address, [...(graph.failures.get(r.resource.address) ?? []), r.rule.id]);
  for (const resource of resources)
    for (const rule of byType.get(resource.type) ?? []) if (rule.late) run(rule, resource, graph, out);
  return out;
}
