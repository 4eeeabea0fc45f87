import { type Rule, tools } from '../rule.js';
import { expectDiagnostics } from './checks.js';

/** Cross-cutting rules: diagnostics on the data-plane resources that have no rule of their own. */
export const CROSS_RULES: Rule[] = [
  {
    id: 'XC-01',
    severity: 'medium',
    title: 'Diagnostic settings on data-plane resources',
    types: ['azurerm_storage_account', 'azurerm_container_registry', 'azurerm_network_security_group'],
    rationale:
      'Reads, writes and denied connections should be on record (workspaces: WS-07; Key Vaults: KV-06).',
    fix: 'Add an azurerm_monitor_diagnostic_setting whose target_resource_id is the resource (for storage, also its blob service).',
    tools: tools('—', '—', '38c71c00 (Key Vault only)', 'per-service DINE/AINE policies'),
    check: expectDiagnostics,
  },
];
