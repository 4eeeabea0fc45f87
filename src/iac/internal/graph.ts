import { type Block, UnknownBlock } from './block.js';
import type { Resource } from './resource.js';
import { markedRef } from './template.js';
import { asString, isRef, type Value } from './values.js';

/** Resources that point at another one (private endpoints, diagnostic settings, …), by target. */
class Relation<T> {
  readonly #by = new Map<string, T[]>();
  /** How many pointers could not be resolved to a resource in the configuration. */
  unresolved = 0;
  add(target: string | undefined, item: T): void {
    if (target === undefined) {
      this.unresolved++;
      return;
    }
    const list = this.#by.get(target) ?? [];
    list.push(item);
    this.#by.set(target, list);
  }
  of(address: string): T[] {
    return this.#by.get(address) ?? [];
  }
}

/** The address a resource ID value points at: a reference, or a string built from one. */
export function targetOf(v: Value | undefined): string | undefined {
  if (isRef(v)) return v.address;
  const s = asString(v);
  return typeof s === 'string' ? markedRef(s)?.address : undefined;
}

/** A private endpoint's connection to a target. */
export interface EndpointLink {
  readonly endpoint: string;
  readonly subresources: Value | undefined;
}

/** The relations between resources that rules need, built once per scan. */
export class Graph {
  readonly byAddress = new Map<string, Resource[]>();
  readonly endpoints = new Relation<EndpointLink>();
  readonly diagnostics = new Relation<string>();
  readonly nsgOfSubnet = new Relation<string>();
  readonly subnetsOfNsg = new Relation<string>();
  readonly storageRules = new Relation<Block>();
  readonly storageKeys = new Relation<string>();
  readonly flowLogs = new Relation<Block>();
  /** Storage accounts a workspace uses (they need blob and file endpoints). */
  readonly workspaceStorage = new Set<string>();
  /** Verdicts by resource address, filled in before the late rules run. */
  readonly failures = new Map<string, string[]>();

  constructor(resources: readonly Resource[]) {
    for (const r of resources) {
      const list = this.byAddress.get(r.address) ?? [];
      list.push(r);
      this.byAddress.set(r.address, list);
      this.#relate(r);
    }
  }

  /** The resource a reference value points at (the mapped one for azapi), if it is in the configuration. */
  resolve(v: Value | undefined): Resource | undefined {
    const address = targetOf(v);
    const list = address === undefined ? undefined : this.byAddress.get(address);
    return list?.find((r) => r.via === 'azapi') ?? list?.[0];
  }

  /** The virtual network a subnet belongs to (matched by `virtual_network_name`). */
  vnetOf(subnet: string): string | undefined {
    const value = this.byAddress.get(subnet)?.[0]?.get('virtual_network_name');
    const named = targetOf(value);
    if (named !== undefined) return named;
    const name = asString(value);
    if (typeof name !== 'string') return undefined;
    for (const [address, list] of this.byAddress)
      if (list[0]?.type === 'azurerm_virtual_network' && asString(list[0].get('name')) === name)
        return address;
    return undefined;
  }

  #relate(r: Resource): void {
    const at = (name: string) => targetOf(r.get(name));
    switch (r.type) {
      case 'azurerm_private_endpoint':
        for (const c of r.blocks('private_service_connection'))
          this.endpoints.add(
            c instanceof UnknownBlock ? undefined : targetOf(c.get('private_connection_resource_id')),
            {
              endpoint: r.address,
              subresources: c.get('subresource_names'),
            },
          );
        break;
      case 'azurerm_monitor_diagnostic_setting':
        this.diagnostics.add(at('target_resource_id'), r.address);
        break;
      case 'azapi_resource':
        if (/^microsoft\.insights\/diagnosticsettings@/i.test(String(asString(r.get('type')))))
          this.diagnostics.add(at('parent_id'), r.address);
        break;
      case 'azurerm_subnet_network_security_group_association':
        this.nsgOfSubnet.add(at('subnet_id'), r.address);
        this.subnetsOfNsg.add(at('network_security_group_id'), at('subnet_id') ?? '');
        break;
      case 'azurerm_storage_account_network_rules':
        this.storageRules.add(at('storage_account_id'), r);
        break;
      case 'azurerm_storage_account_customer_managed_key':
        this.storageKeys.add(at('storage_account_id'), r.address);
        break;
      case 'azurerm_network_watcher_flow_log':
        this.flowLogs.add(at('network_security_group_id') ?? at('target_resource_id'), r);
        break;
      case 'azurerm_machine_learning_workspace': {
        const sa = at('storage_account_id');
        if (sa) this.workspaceStorage.add(sa);
        break;
      }
    }
  }
}
