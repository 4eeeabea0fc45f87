import type { Resource } from '../resource.js';
import { fail, pass, type Rule, tools, unknown, type Verdict, warn } from '../rule.js';
import { asBool, asString, Unknown } from '../values.js';
import { expectBool, expectDiagnostics, expectEndpoint, isSet, presence, str } from './checks.js';

const WS = ['azurerm_machine_learning_workspace'];

function publicAccess(r: Resource): Verdict {
  if (r.get('public_network_access_enabled') === undefined && r.azurermMajor < 4)
    return warn(
      'public_network_access_enabled is not set: azurerm 3.x then sends Disabled, 4.x defaults to true; set it to false explicitly',
      'public_network_access_enabled',
    );
  return expectBool(r, 'public_network_access_enabled', {
    want: false,
    missing: 'fail',
    missingNote: 'azurerm 4.x default: true',
  });
}

function identity(r: Resource): Verdict {
  const blocks = r.blocks('identity');
  if (blocks.length === 0) return fail('no identity block', 'identity');
  const type = asString(blocks[0]?.get('type'));
  if (type instanceof Unknown) return unknown(`identity.type cannot be resolved: ${type.reason}`, 'identity');
  if (!type?.includes('UserAssigned'))
    return warn(`identity.type = "${type}": a user-assigned identity is preferred`, 'identity');
  const primary = isSet(r, 'primary_user_assigned_identity');
  if (primary instanceof Unknown) return unknown(`primary_user_assigned_identity: ${primary.reason}`);
  return primary
    ? pass('user-assigned identity is the primary identity')
    : fail('identity is UserAssigned but primary_user_assigned_identity is not set', 'identity');
}

function isolation(r: Resource, g: Parameters<Rule['check']>[1]): Verdict {
  const mode = str(r.blocks('managed_network')[0] ?? r, 'isolation_mode');
  if (mode instanceof Unknown)
    return unknown(`managed_network.isolation_mode cannot be resolved: ${mode.reason}`);
  if (mode === 'AllowOnlyApprovedOutbound')
    return pass('managed network allows only approved outbound', 'managed_network');
  const byoVnet =
    asBool(r.get('public_network_access_enabled')) === false &&
    expectEndpoint(r, g, 'amlworkspace').status === 'pass';
  if (byoVnet) return pass('bring-your-own VNet: private endpoint and public network access disabled');
  return fail(
    `managed_network.isolation_mode is ${mode ? `"${mode}"` : 'not set'} and the workspace is not private (private endpoint + no public access)`,
    'managed_network',
  );
}

function hbiStorage(r: Resource, g: Parameters<Rule['check']>[1]): Verdict | undefined {
  const hbi = asBool(r.get('high_business_impact'));
  if (hbi instanceof Unknown) return unknown(`high_business_impact: ${hbi.reason}`, 'high_business_impact');
  if (hbi !== true) return undefined;
  const sa = g.resolve(r.get('storage_account_id'));
  if (!sa) return unknown('the linked storage account is not in this configuration', 'storage_account_id');
  const v = expectBool(sa, 'public_network_access_enabled', {
    want: false,
    missing: 'fail',
    missingNote: 'default true',
  });
  return { ...v, message: `linked storage ${sa.address}: ${v.message}`, attr: 'storage_account_id' };
}

const LINKS = [
  ['key_vault_id', 'KV-'],
  ['storage_account_id', 'ST-'],
  ['container_registry_id', 'CR-'],
] as const;

function linked(r: Resource, g: Parameters<Rule['check']>[1]): Verdict {
  const failing: string[] = [];
  const unresolved: string[] = [];
  for (const [attr, prefix] of LINKS) {
    if (isSet(r, attr) !== true) continue;
    const target = g.resolve(r.get(attr));
    if (!target) {
      unresolved.push(attr);
      continue;
    }
    const bad = (g.failures.get(target.address) ?? []).filter((id) => id.startsWith(prefix));
    if (bad.length > 0) failing.push(`${target.address} fails ${bad.join(', ')}`);
  }
  if (failing.length > 0) return fail(failing.join('; '));
  if (unresolved.length > 0)
    return unknown(`linked resources not in this configuration: ${unresolved.join(', ')}`);
  return pass('linked Key Vault, storage and registry pass their rules');
}

/** Azure ML workspace rules (WS-01 … WS-10). */
export const WORKSPACE_RULES: Rule[] = [
  {
    id: 'WS-01',
    severity: 'high',
    title: 'Workspace public network access disabled',
    types: WS,
    rationale: 'A public workspace endpoint exposes the control plane and data of training to the internet.',
    fix: 'Set public_network_access_enabled = false (ARM publicNetworkAccess = "Disabled").',
    tools: tools('CKV_AZURE_144, CKV2_AZURE_49', '—', '—', '438c38d2, a10ee784; Azure.ML.PublicAccess'),
    check: publicAccess,
  },
  {
    id: 'WS-02',
    severity: 'high',
    title: 'Workspace private endpoint',
    types: WS,
    rationale: 'Without a private endpoint clients reach the workspace over public addresses.',
    fix: 'Add an azurerm_private_endpoint with private_connection_resource_id = <workspace>.id and subresource_names = ["amlworkspace"].',
    tools: tools('— (ARM CKV_AZURE_243)', '—', '—', '45e05259, 7838fd83, ee40564d'),
    check: (r, g) => expectEndpoint(r, g, 'amlworkspace'),
  },
  {
    id: 'WS-03',
    severity: 'low',
    title: 'High-business-impact flag set',
    types: WS,
    rationale:
      'The HBI flag reduces the diagnostic data Microsoft collects and encrypts local scratch disks; set it for sensitive data.',
    fix: 'Set high_business_impact = true (ARM hbiWorkspace; forces a new workspace).',
    tools: tools('— (CKV2_AZURE_50 tests the storage side)', '—', '—', '—'),
    check: (r) =>
      expectBool(r, 'high_business_impact', { want: true, missing: 'fail', missingNote: 'default false' }),
  },
  {
    id: 'WS-04',
    severity: 'medium',
    title: 'Workspace customer-managed key',
    types: WS,
    rationale:
      'A customer-managed key keeps the workspace metadata under a key the data owner controls and can revoke.',
    fix: 'Add encryption { key_vault_id, key_id, user_assigned_identity_id } (ARM encryption.status = "Enabled").',
    tools: tools('—', '—', '—', 'ba769a63, 7f40cee6'),
    check: (r) => {
      const p = presence(r, 'encryption');
      if (p instanceof Unknown) return unknown(`encryption cannot be resolved: ${p.reason}`, 'encryption');
      return p
        ? pass('encryption block present', 'encryption')
        : fail('no encryption block (customer-managed key)');
    },
  },
  {
    id: 'WS-05',
    severity: 'medium',
    title: 'User-assigned workspace identity',
    types: WS,
    rationale:
      'A user-assigned identity is granted access before the workspace exists and outlives it; no secrets are stored.',
    fix: 'Set identity { type = "UserAssigned", identity_ids = [...] } and primary_user_assigned_identity.',
    tools: tools('—', '—', '—', '5f0c7d88; Azure.ML.UserManagedIdentity'),
    check: identity,
  },
  {
    id: 'WS-06',
    severity: 'high',
    title: 'Managed-network isolation',
    types: WS,
    rationale: 'Without isolation, compute can send training data anywhere on the internet.',
    fix: 'Set managed_network { isolation_mode = "AllowOnlyApprovedOutbound" }, or use your own VNet with a private endpoint and no public access.',
    tools: tools('—', '—', '—', '6ddb1705'),
    check: isolation,
  },
  {
    id: 'WS-07',
    severity: 'medium',
    title: 'Workspace diagnostic logs',
    types: WS,
    rationale: 'Without diagnostic settings there is no record of who ran, read or changed what.',
    fix: 'Add an azurerm_monitor_diagnostic_setting with target_resource_id = <workspace>.id.',
    tools: tools('—', '—', '—', 'afe0c3be, f59276f0'),
    check: expectDiagnostics,
  },
  {
    id: 'WS-08',
    severity: 'high',
    title: 'HBI workspace storage is private',
    types: WS,
    rationale:
      'An HBI workspace whose storage account is public leaks the data the flag is meant to protect.',
    fix: 'Set public_network_access_enabled = false on the storage account named by storage_account_id.',
    tools: tools('CKV2_AZURE_50', '—', '—', '—'),
    check: hbiStorage,
  },
  {
    id: 'WS-09',
    severity: 'medium',
    title: 'Serverless compute without public IP',
    types: WS,
    rationale: 'Serverless compute with public IPs is reachable from the internet.',
    fix: 'Set serverless_compute { subnet_id = ..., public_ip_enabled = false }.',
    tools: tools('—', '—', '—', '—'),
    check: (r) => {
      const sc = r.blocks('serverless_compute')[0];
      if (!sc) return pass('no serverless_compute block (no public IP by default)');
      return expectBool(sc, 'public_ip_enabled', {
        want: false,
        missing: 'pass',
        missingNote: 'default false',
      });
    },
  },
  {
    id: 'WS-10',
    severity: 'high',
    title: 'Linked dependencies hardened',
    types: WS,
    rationale: 'A workspace is as private as its Key Vault, storage account and registry.',
    fix: 'Fix the Key Vault (KV), storage (ST) and registry (CR) findings of the resources named by key_vault_id, storage_account_id and container_registry_id.',
    tools: tools('CKV2_AZURE_50 (partial)', '—', '—', '—'),
    check: linked,
    late: true,
  },
];
