import type { Rule } from '../rule.js';
import { AKS_RULES } from './aks.js';
import { COMPUTE_RULES } from './compute.js';
import { CROSS_RULES } from './cross.js';
import { KEYVAULT_RULES } from './keyvault.js';
import { NETWORK_RULES } from './network.js';
import { REGISTRY_RULES } from './registry.js';
import { STORAGE_RULES } from './storage.js';
import { VM_RULES } from './vm.js';
import { WORKSPACE_RULES } from './workspace.js';

/** Every rule, in the order of the rule table. */
export const ALL_RULES: readonly Rule[] = [
  ...WORKSPACE_RULES,
  ...COMPUTE_RULES,
  ...KEYVAULT_RULES,
  ...STORAGE_RULES,
  ...NETWORK_RULES,
  ...REGISTRY_RULES,
  ...VM_RULES.filter((r) => r.id !== 'XC-02'),
  ...AKS_RULES,
  ...CROSS_RULES,
  ...VM_RULES.filter((r) => r.id === 'XC-02'),
];
