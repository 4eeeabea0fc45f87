import type { Block } from '../block.js';
import type { Graph } from '../graph.js';
import type { Resource } from '../resource.js';
import { fail, pass, type Rule, tools, unknown, type Verdict } from '../rule.js';
import { asBool, asList, asString, Unknown } from '../values.js';
import { endpointSubresources, expectBool, presence } from './checks.js';

const SA = ['azurerm_storage_account'];

/** The network rules of an account: its inline block, else a standalone resource. */
function networkRules(r: Resource, g: Graph): Block | undefined {
  return r.blocks('network_rules')[0] ?? g.storageRules.of(r.address)[0];
}

function defaultDeny(r: Resource, g: Graph): Verdict {
  const rules = networkRules(r, g);
  if (!rules) {
    if (g.storageRules.unresolved > 0)
      return unknown('network rules point at accounts this scan cannot resolve');
    return fail('no network_rules (default Allow)');
  }
  const action = asString(rules.get('default_action'));
  if (action instanceof Unknown)
    return unknown(`network_rules.default_action: ${action.reason}`, 'network_rules');
  return action === 'Deny'
    ? pass('default_action = "Deny"', 'network_rules')
    : fail(`default_action = "${action}"`, 'network_rules');
}

function trustedBypass(r: Resource, g: Graph): Verdict {
  const rules = networkRules(r, g);
  const action = rules ? asString(rules.get('default_action')) : undefined;
  if (action instanceof Unknown)
    return unknown(`network_rules.default_action: ${action.reason}`, 'network_rules');
  if (!rules || action !== 'Deny') return pass('no Deny default, nothing to bypass');
  const bypass = asList(rules.get('bypass'));
  if (bypass instanceof Unknown) return unknown(`network_rules.bypass: ${bypass.reason}`, 'network_rules');
  if (bypass === undefined || bypass.includes('AzureServices'))
    return pass('trusted Azure services may reach it');
  return fail(
    'default Deny without bypass = ["AzureServices"]: Azure ML cannot reach the account',
    'network_rules',
  );
}

function endpoints(r: Resource, g: Graph): Verdict {
  const found = endpointSubresources(r, g);
  if (found instanceof Unknown) return unknown(`subresource_names: ${found.reason}`);
  const need = g.workspaceStorage.has(r.address) ? ['blob', 'file'] : ['blob'];
  const lacking = need.filter((s) => !found.names.has(s));
  if (lacking.length === 0) return pass(`private endpoints for ${need.join(' and ')}`);
  if (found.count === 0 && g.endpoints.unresolved > 0)
    return unknown('private endpoints point at resources this scan cannot resolve');
  return fail(
    `no private endpoint for ${lacking.join(', ')}${need.length > 1 ? ' (an Azure ML workspace needs blob and file)' : ''}`,
  );
}

function cmk(r: Resource, g: Graph): Verdict {
  const p = presence(r, 'customer_managed_key');
  if (p instanceof Unknown) return unknown(`customer_managed_key: ${p.reason}`);
  if (p || g.storageKeys.of(r.address).length > 0) return pass('customer-managed key');
  if (g.storageKeys.unresolved > 0)
    return unknown('customer-managed key resources point at accounts this scan cannot resolve');
  return fail('no customer_managed_key block and no azurerm_storage_account_customer_managed_key');
}

function softDelete(r: Resource): Verdict {
  const bp = r.blocks('blob_properties')[0];
  if (!bp) return fail('no blob_properties (no soft delete, no versioning)');
  const versioning = asBool(bp.get('versioning_enabled'));
  const retention = presence(bp, 'delete_retention_policy');
  if (versioning === true || retention === true)
    return pass('blob soft delete or versioning on', 'blob_properties');
  if (versioning instanceof Unknown || retention instanceof Unknown)
    return unknown('blob_properties cannot be resolved');
  return fail('neither delete_retention_policy nor versioning_enabled = true', 'blob_properties');
}

const REDUNDANT = new Set(['ZRS', 'GRS', 'RAGRS', 'GZRS', 'RAGZRS']);

/** Storage account rules (ST-01 … ST-13). */
export const STORAGE_RULES: Rule[] = [
  {
    id: 'ST-01',
    severity: 'high',
    title: 'HTTPS only',
    types: SA,
    rationale: 'Plain HTTP exposes data and SAS tokens on the wire.',
    fix: 'Remove https_traffic_only_enabled = false (azurerm 3.x: enable_https_traffic_only).',
    tools: tools('CKV_AZURE_3', 'AZU-0008, AZU-0059', '12944ec4', '404c3081'),
    check: (r) =>
      expectBool(r, 'https_traffic_only_enabled', {
        want: true,
        missing: 'pass',
        missingNote: 'default true',
      }),
  },
  {
    id: 'ST-02',
    severity: 'high',
    title: 'Minimum TLS 1.2',
    types: SA,
    rationale: 'TLS 1.0 and 1.1 have known weaknesses.',
    fix: 'Set min_tls_version = "TLS1_2".',
    tools: tools('CKV_AZURE_44', 'AZU-0011, AZU-0059', '8263f146', 'fe83a0eb'),
    check: (r) => {
      const v = asString(r.get('min_tls_version'));
      if (v instanceof Unknown) return unknown(`min_tls_version: ${v.reason}`, 'min_tls_version');
      if (v === undefined) return pass('min_tls_version is not set (azurerm ≥ 3 default: TLS1_2)');
      return v === 'TLS1_2' || v === 'TLS1_3'
        ? pass(`min_tls_version = ${v}`, 'min_tls_version')
        : fail(`min_tls_version = ${v}`, 'min_tls_version');
    },
  },
  {
    id: 'ST-03',
    severity: 'high',
    title: 'No anonymous blob access',
    types: SA,
    rationale: 'Public containers publish training data to anyone with the URL.',
    fix: 'Set allow_nested_items_to_be_public = false (azurerm 2.x: allow_blob_public_access).',
    tools: tools('CKV_AZURE_190, CKV2_AZURE_47', 'AZU-0007', '17f75827', '4fa4b6c0'),
    check: (r) =>
      expectBool(r, 'allow_nested_items_to_be_public', {
        want: false,
        missing: 'fail',
        missingNote: 'default true',
      }),
  },
  {
    id: 'ST-04',
    severity: 'high',
    title: 'Storage public network access disabled',
    types: SA,
    rationale:
      'A private endpoint does not make an account private: the public endpoint stays open until this is off.',
    fix: 'Set public_network_access_enabled = false.',
    tools: tools('CKV_AZURE_59', '—', '—', 'b2982f36'),
    check: (r) =>
      expectBool(r, 'public_network_access_enabled', {
        want: false,
        missing: 'fail',
        missingNote: 'default true',
      }),
  },
  {
    id: 'ST-05',
    severity: 'medium',
    title: 'Storage network default deny',
    types: SA,
    rationale: 'Without a Deny default every network may try the account keys and tokens.',
    fix: 'Add network_rules { default_action = "Deny" } or an azurerm_storage_account_network_rules resource.',
    tools: tools('CKV_AZURE_35', 'AZU-0012', '9be09caf, a5613650, 17f75827', '34c877ad, 2a1a9cdf'),
    check: defaultDeny,
  },
  {
    id: 'ST-06',
    severity: 'low',
    title: 'Trusted Azure services bypass',
    types: SA,
    rationale:
      'Azure ML reaches its storage as a trusted service; without the bypass a Deny default breaks it.',
    fix: 'Set bypass = ["AzureServices"] next to default_action = "Deny".',
    tools: tools('CKV_AZURE_36', 'AZU-0010', '5400f379'),
    check: trustedBypass,
  },
  {
    id: 'ST-07',
    severity: 'medium',
    title: 'Shared key access disabled',
    types: SA,
    rationale:
      'Account keys grant full access and leave no identity in the logs. An Azure ML workspace then needs identity-based datastores (systemDatastoresAuthMode = "identity", through azapi).',
    fix: 'Set shared_access_key_enabled = false and use Entra ID (storage_use_azuread = true in the provider).',
    tools: tools('CKV2_AZURE_40', '—', '45f3e879', '8c6a50c6'),
    check: (r) =>
      expectBool(r, 'shared_access_key_enabled', {
        want: false,
        missing: 'fail',
        missingNote: 'default true',
      }),
  },
  {
    id: 'ST-08',
    severity: 'high',
    title: 'Storage private endpoints (blob and file for Azure ML)',
    types: SA,
    rationale:
      'Training data should travel over your network; an Azure ML workspace uses both blob and file.',
    fix: 'Add azurerm_private_endpoint resources with subresource_names ["blob"] and ["file"].',
    tools: tools('CKV2_AZURE_33', '—', 'dda11a20', '6edd7eda'),
    check: endpoints,
  },
  {
    id: 'ST-09',
    severity: 'medium',
    title: 'Storage customer-managed key',
    types: SA,
    rationale: 'A key the data owner controls can be revoked to make the data unreadable.',
    fix: 'Add customer_managed_key { key_vault_key_id, user_assigned_identity_id } or azurerm_storage_account_customer_managed_key.',
    tools: tools('CKV2_AZURE_1', 'AZU-0060', '9bf1568d', '6fac406b'),
    check: cmk,
  },
  {
    id: 'ST-10',
    severity: 'low',
    title: 'Infrastructure (double) encryption',
    types: SA,
    rationale: 'A second layer of encryption at the infrastructure level (advisory).',
    fix: 'Set infrastructure_encryption_enabled = true (forces a new account).',
    tools: tools('—', 'AZU-0061', 'azure_storage_account_infrastructure_encryption_disabled'),
    check: (r) =>
      expectBool(r, 'infrastructure_encryption_enabled', {
        want: true,
        missing: 'fail',
        missingNote: 'default false',
      }),
  },
  {
    id: 'ST-11',
    severity: 'low',
    title: 'Blob soft delete or versioning',
    types: SA,
    rationale: 'Deleted or overwritten datasets and models can be recovered (advisory).',
    fix: 'Add blob_properties { delete_retention_policy { days = 7 } versioning_enabled = true }.',
    tools: tools(
      'CKV2_AZURE_38',
      'AZU-0056',
      'blob_storage_without_soft_delete, azure_storage_account_versioning_disabled',
      '9fbd64e3',
    ),
    check: softDelete,
  },
  {
    id: 'ST-12',
    severity: 'high',
    title: 'Containers private',
    types: ['azurerm_storage_container'],
    rationale: 'A blob or container access level publishes its contents.',
    fix: 'Set container_access_type = "private" (the default).',
    tools: tools('CKV_AZURE_34', 'AZU-0007', 'dd5230f8'),
    check: (r) => {
      const v = asString(r.get('container_access_type'));
      if (v instanceof Unknown) return unknown(`container_access_type: ${v.reason}`, 'container_access_type');
      return v === undefined || v === 'private'
        ? pass('private container', 'container_access_type')
        : fail(`container_access_type = "${v}"`, 'container_access_type');
    },
  },
  {
    id: 'ST-13',
    severity: 'info',
    title: 'Redundant replication',
    types: SA,
    rationale: 'Locally redundant storage loses data with a datacentre (resilience, advisory).',
    fix: 'Use account_replication_type ZRS, GZRS or RAGZRS.',
    tools: tools('CKV_AZURE_206, CKV_AZURE_33', 'AZU-0058, AZU-0009'),
    check: (r) => {
      const v = asString(r.get('account_replication_type'));
      if (v instanceof Unknown) return unknown(`account_replication_type: ${v.reason}`);
      if (v === undefined) return undefined;
      return REDUNDANT.has(v)
        ? pass(`replication ${v}`)
        : fail(`replication ${v}`, 'account_replication_type');
    },
  },
];
