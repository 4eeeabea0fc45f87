import { asArray } from './parse.js';
import { isObjectValue, isUnknown, type ObjectValue, Unknown, type Value } from './values.js';

/**
 * azurerm 3.x and 4.x names of one attribute: the 4.x name first. Rules ask for the 4.x name and
 * get whichever is set.
 */
const ATTRIBUTE_ALIASES: Readonly<Record<string, readonly string[]>> = {
  https_traffic_only_enabled: ['https_traffic_only_enabled', 'enable_https_traffic_only'],
  node_public_ip_enabled: ['node_public_ip_enabled', 'enable_node_public_ip'],
  ip_forwarding_enabled: ['ip_forwarding_enabled', 'enable_ip_forwarding'],
  allow_nested_items_to_be_public: ['allow_nested_items_to_be_public', 'allow_blob_public_access'],
  rbac_authorization_enabled: ['rbac_authorization_enabled', 'enable_rbac_authorization'],
  host_encryption_enabled: ['host_encryption_enabled', 'enable_host_encryption'],
  authorized_ip_ranges: ['authorized_ip_ranges', 'api_server_authorized_ip_ranges'],
};

const namesOf = (name: string): readonly string[] => ATTRIBUTE_ALIASES[name] ?? [name];

/** A block or object the rules read: attributes (with aliases) and nested blocks. */
export interface Block {
  /** The evaluated attribute, or undefined when it is absent. */
  get(name: string): Value | undefined;
  /** The nested blocks of that name (static and `dynamic`). */
  blocks(name: string): Block[];
  /** True when blocks of that name come from a `dynamic` block (their content is unknown). */
  isDynamic(name: string): boolean;
}

/** A block whose every attribute is unknown (a block list that could not be evaluated). */
export class UnknownBlock implements Block {
  constructor(readonly reason: Unknown) {}
  get(): Value {
    return this.reason;
  }
  blocks(): Block[] {
    return [this];
  }
  isDynamic(): boolean {
    return true;
  }
}

/** Blocks from an evaluated value: an object, or a list of objects. */
export function blocksFromValue(v: Value | undefined): Block[] {
  if (v === undefined || v === null) return [];
  if (isUnknown(v)) return [new UnknownBlock(v)];
  if (Array.isArray(v)) return v.flatMap((x) => blocksFromValue(x));
  if (isObjectValue(v)) return [new ValueBlock(v)];
  return [new UnknownBlock(new Unknown('a block that is not an object'))];
}

/** A block over already evaluated values (azapi bodies mapped to azurerm names). */
export class ValueBlock implements Block {
  constructor(readonly value: ObjectValue) {}
  get(name: string): Value | undefined {
    for (const n of namesOf(name)) if (Object.hasOwn(this.value, n)) return this.value[n];
    return undefined;
  }
  blocks(name: string): Block[] {
    return blocksFromValue(this.get(name));
  }
  isDynamic(): boolean {
    return false;
  }
}

/** A block as the parser gave it, evaluated on demand in its module's scope. */
export class HclBlock implements Block {
  constructor(
    readonly raw: Record<string, unknown>,
    readonly evaluate: (raw: unknown) => Value,
  ) {}

  get(name: string): Value | undefined {
    for (const n of namesOf(name)) if (Object.hasOwn(this.raw, n)) return this.evaluate(this.raw[n]);
    return undefined;
  }

  blocks(name: string): Block[] {
    const out: Block[] = [];
    for (const n of namesOf(name)) {
      const raw = this.raw[n];
      if (raw === undefined) continue;
      const items = Array.isArray(raw) ? raw : [raw];
      for (const item of items)
        if (typeof item === 'object' && item !== null && !Array.isArray(item))
          out.push(new HclBlock(item as Record<string, unknown>, this.evaluate));
        else out.push(...blocksFromValue(this.evaluate(item)));
    }
    for (const d of this.#dynamic(name))
      for (const content of asArray(d.content)) out.push(new HclBlock(content, this.evaluate));
    return out;
  }

  isDynamic(name: string): boolean {
    return this.#dynamic(name).length > 0;
  }

  #dynamic(name: string): Record<string, unknown>[] {
    return asArray(this.raw.dynamic).flatMap((d) => asArray(d[name]));
  }
}
