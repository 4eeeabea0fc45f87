import type { Resource } from '../resource.js';
import { fail, pass, type Rule, tools, unknown, type Verdict } from '../rule.js';
import { asBool, asList, Unknown } from '../values.js';
import { expectBool, isSet, presence } from './checks.js';

const AKS = ['azurerm_kubernetes_cluster'];

function authorizedRanges(r: Resource): Verdict {
  if (asBool(r.get('private_cluster_enabled')) === true) return pass('private cluster: no public API server');
  const ranges = asList(
    r.blocks('api_server_access_profile')[0]?.get('authorized_ip_ranges') ?? r.get('authorized_ip_ranges'),
  );
  if (ranges instanceof Unknown) return unknown(`authorized_ip_ranges: ${ranges.reason}`);
  return ranges && ranges.length > 0
    ? pass('API server limited to authorized ranges')
    : fail('public API server open to every address');
}

function pool(r: Resource) {
  return r.blocks('default_node_pool')[0] ?? r;
}

function encryption(r: Resource): Verdict {
  const des = isSet(r, 'disk_encryption_set_id');
  const host = asBool(pool(r).get('host_encryption_enabled'));
  if (des === true || host === true) return pass('disk encryption set or host encryption');
  if (des instanceof Unknown || host instanceof Unknown)
    return unknown('disk encryption settings cannot be resolved');
  return fail('neither disk_encryption_set_id nor default_node_pool.host_encryption_enabled');
}

function monitoring(r: Resource): Verdict {
  const oms = presence(r, 'oms_agent');
  const policy = asBool(r.get('azure_policy_enabled'));
  if (oms instanceof Unknown || policy instanceof Unknown)
    return unknown('monitoring settings cannot be resolved');
  const missing = [
    ...(oms ? [] : ['oms_agent']),
    ...(policy === true ? [] : ['azure_policy_enabled = true']),
  ];
  return missing.length === 0
    ? pass('monitoring and Azure Policy add-ons on')
    : fail(`missing: ${missing.join(', ')}`);
}

/** AKS rules (AKS-01 … AKS-07), for clusters used as training or inference compute. */
export const AKS_RULES: Rule[] = [
  {
    id: 'AKS-01',
    severity: 'high',
    title: 'Private cluster',
    types: AKS,
    rationale: 'A public API server is reachable from the internet.',
    fix: 'Set private_cluster_enabled = true.',
    tools: tools('CKV_AZURE_115', 'AZU-0065', '599318f2'),
    check: (r) =>
      expectBool(r, 'private_cluster_enabled', { want: true, missing: 'fail', missingNote: 'default false' }),
  },
  {
    id: 'AKS-02',
    severity: 'high',
    title: 'Local accounts disabled, Entra ID RBAC',
    types: AKS,
    rationale: 'Local accounts are shared credentials outside Entra ID.',
    fix: 'Set local_account_disabled = true and add azure_active_directory_role_based_access_control { azure_rbac_enabled = true }.',
    tools: tools('CKV_AZURE_141, CKV_AZURE_5', 'AZU-0042', '86f92117'),
    check: (r) => {
      const v = expectBool(r, 'local_account_disabled', {
        want: true,
        missing: 'fail',
        missingNote: 'default false',
      });
      if (v.status !== 'pass') return v;
      const aad = presence(r, 'azure_active_directory_role_based_access_control');
      if (aad instanceof Unknown)
        return unknown(`azure_active_directory_role_based_access_control: ${aad.reason}`);
      return aad ? v : fail('no azure_active_directory_role_based_access_control block');
    },
  },
  {
    id: 'AKS-03',
    severity: 'high',
    title: 'Node public IP disabled',
    types: AKS,
    rationale: 'Nodes with public IPs are reachable from the internet.',
    fix: 'Remove default_node_pool.node_public_ip_enabled = true (azurerm 3.x: enable_node_public_ip).',
    tools: tools('CKV_AZURE_143'),
    check: (r) =>
      expectBool(pool(r), 'node_public_ip_enabled', {
        want: false,
        missing: 'pass',
        missingNote: 'default false',
      }),
  },
  {
    id: 'AKS-04',
    severity: 'high',
    title: 'API server authorized IP ranges',
    types: AKS,
    rationale: 'A public API server should accept only known networks.',
    fix: 'Set api_server_access_profile { authorized_ip_ranges = [...] } (azurerm 3.x: api_server_authorized_ip_ranges), or make the cluster private.',
    tools: tools('CKV_AZURE_6', 'AZU-0041'),
    check: authorizedRanges,
  },
  {
    id: 'AKS-05',
    severity: 'medium',
    title: 'Network policy',
    types: AKS,
    rationale: 'Without a network policy every pod can reach every other pod.',
    fix: 'Set network_profile { network_policy = "azure" | "calico" | "cilium" }.',
    tools: tools('CKV_AZURE_7', 'AZU-0043', 'f5342045'),
    check: (r) => {
      const np = r.blocks('network_profile')[0];
      const s = np ? isSet(np, 'network_policy') : false;
      if (s instanceof Unknown) return unknown(`network_policy: ${s.reason}`);
      return s ? pass('network policy set', 'network_profile') : fail('no network_profile.network_policy');
    },
  },
  {
    id: 'AKS-06',
    severity: 'medium',
    title: 'Disk encryption set or host encryption',
    types: AKS,
    rationale: 'Node disks hold images and cached data.',
    fix: 'Set disk_encryption_set_id, or default_node_pool.host_encryption_enabled = true (3.x: enable_host_encryption).',
    tools: tools('CKV_AZURE_117, CKV_AZURE_227', 'AZU-0067', 'b17d8bb8'),
    check: encryption,
  },
  {
    id: 'AKS-07',
    severity: 'low',
    title: 'Monitoring and Azure Policy add-ons',
    types: AKS,
    rationale: 'Container insights and Azure Policy show and enforce what runs.',
    fix: 'Add oms_agent { log_analytics_workspace_id } and azure_policy_enabled = true.',
    tools: tools('CKV_AZURE_4, CKV_AZURE_116, CKV_AZURE_172', 'AZU-0040, AZU-0066', '43789711'),
    check: monitoring,
  },
];
