import type { Block } from './block.js';
import type { Value } from './values.js';

/** A resource as the rules see it: its identity, where it is declared, and its attributes. */
export interface Resource extends Block {
  /** The azurerm type the rules key on (an azapi body is mapped to one). */
  readonly type: string;
  readonly name: string;
  /** The full address with its module path, e.g. `module.net.azurerm_subnet.a`. */
  readonly address: string;
  readonly file: string;
  /** `azapi` when the resource is an `azapi_resource` body mapped to azurerm names. */
  readonly via: 'azurerm' | 'azapi';
  /** The azurerm major version the configuration asks for (defaults that changed depend on it). */
  readonly azurermMajor: number;
}

/** Wraps a block with a resource's identity. */
export function makeResource(block: Block, meta: Omit<Resource, keyof Block>): Resource {
  return {
    ...meta,
    get: (name: string): Value | undefined => block.get(name),
    blocks: (name: string) => block.blocks(name),
    isDynamic: (name: string) => block.isDynamic(name),
  };
}
