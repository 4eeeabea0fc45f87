import type { Resource } from '../resource.js';
import { fail, pass, type Rule, type RuleInfo, tools, unknown, type Verdict, warn } from '../rule.js';
import { asBool, asNumber, asString, Unknown } from '../values.js';
import { expectBool, isSet, presence } from './checks.js';

const CLUSTER = 'azurerm_machine_learning_compute_cluster';
const INSTANCE = 'azurerm_machine_learning_compute_instance';

function subnet(r: Resource): Verdict {
  const s = isSet(r, 'subnet_resource_id');
  if (s instanceof Unknown) return unknown(`subnet_resource_id: ${s.reason}`, 'subnet_resource_id');
  return s
    ? pass('in a subnet', 'subnet_resource_id')
    : fail('subnet_resource_id is not set: the compute is not in your VNet');
}

function identity(r: Resource): Verdict {
  const p = presence(r, 'identity');
  if (p instanceof Unknown) return unknown(`identity: ${p.reason}`, 'identity');
  return p ? pass('managed identity', 'identity') : fail('no identity block');
}

function clusterSsh(r: Resource): Verdict {
  const open = expectBool(r, 'ssh_public_access_enabled', {
    want: false,
    missing: 'pass',
    missingNote: 'default false',
  });
  if (open.status !== 'pass') return open;
  const ssh = r.blocks('ssh')[0];
  if (ssh && isSet(ssh, 'admin_password') === true)
    return fail('ssh.admin_password is set: use keys only', 'ssh');
  return pass('no public SSH and no password');
}

function instanceSsh(r: Resource): Verdict {
  for (const ssh of r.blocks('ssh')) {
    const open = asBool(ssh.get('public_access'));
    if (open instanceof Unknown) return unknown(`ssh.public_access: ${open.reason}`, 'ssh');
    if (open === true) return fail('SSH is open to the public', 'ssh');
    if (isSet(ssh, 'admin_password') === true) return fail('ssh uses a password: use keys only', 'ssh');
  }
  return pass('no public SSH; key-only access when enabled');
}

function idle(r: Resource): Verdict {
  const s = isSet(r, 'idle_time_before_shutdown');
  if (s instanceof Unknown) return unknown(`idle_time_before_shutdown: ${s.reason}`);
  if (s) return pass('idle shutdown set');
  if (r.via === 'azurerm')
    return fail(
      'azurerm cannot set idle shutdown: create the instance with azapi_resource (idleTimeBeforeShutdown)',
    );
  return fail('properties.idleTimeBeforeShutdown is not set');
}

function personal(r: Resource): Verdict {
  const t = asString(r.get('authorization_type'));
  if (t instanceof Unknown) return unknown(`authorization_type: ${t.reason}`);
  const assigned = presence(r, 'assign_to_user') === true || isSet(r, 'assign_to_user') === true;
  if (t?.toLowerCase() === 'personal' && assigned) return pass('personal instance assigned to one user');
  return warn(
    'not a personal instance assigned to one user (authorization_type = "personal" + assign_to_user)',
  );
}

function scaleToZero(r: Resource): Verdict | undefined {
  const s = r.blocks('scale_settings')[0];
  if (!s) return undefined;
  const n = asNumber(s.get('min_node_count'));
  if (n instanceof Unknown) return unknown(`scale_settings.min_node_count: ${n.reason}`, 'scale_settings');
  if (n === undefined) return undefined;
  return n === 0
    ? pass('scales to zero', 'scale_settings')
    : fail(`min_node_count = ${n}: idle nodes cost money`, 'scale_settings');
}

type Pair = Omit<RuleInfo, 'id' | 'types'> & { check: Rule['check'] };

const both = (cc: string, ci: string, info: Pair, checkov = '—'): Rule[] => [
  { ...info, id: cc, types: [CLUSTER], tools: { ...info.tools, checkov } },
  { ...info, id: ci, types: [INSTANCE] },
];

const SSH = {
  severity: 'medium',
  title: 'No public SSH, no password',
  rationale: 'Public SSH and passwords invite brute force against nodes that hold decrypted training data.',
  fix: 'Cluster: ssh_public_access_enabled = false and ssh keys only; instance: no ssh block, or key-only.',
  tools: tools(),
} as const;

/** Azure ML compute cluster (CC-*) and compute instance (CI-*) rules. */
export const COMPUTE_RULES: Rule[] = [
  ...both(
    'CC-01',
    'CI-01',
    {
      severity: 'high',
      title: 'Compute local auth disabled',
      rationale: 'Local (key) authentication bypasses Entra ID and its audit trail.',
      fix: 'Set local_auth_enabled = false (ARM disableLocalAuth = true).',
      tools: tools('—', '—', '—', 'e96a9a5f, a6f9a2d0; Azure.ML.DisableLocalAuth'),
      check: (r) =>
        expectBool(r, 'local_auth_enabled', { want: false, missing: 'fail', missingNote: 'default true' }),
    },
    'CKV_AZURE_142',
  ),
  ...both('CC-02', 'CI-02', {
    severity: 'high',
    title: 'Compute in a VNet',
    rationale: 'Compute outside your VNet cannot be reached through private endpoints or filtered by NSGs.',
    fix: 'Set subnet_resource_id to a subnet of your VNet (ARM properties.subnet.id).',
    tools: tools('—', '—', '—', '7804b5c7; Azure.ML.ComputeVnet'),
    check: subnet,
  }),
  ...both('CC-03', 'CI-03', {
    severity: 'high',
    title: 'Compute without public IP',
    rationale: 'Nodes with public IPs are reachable from the internet.',
    fix: 'Set node_public_ip_enabled = false (azurerm 3.x: enable_node_public_ip; needs subnet_resource_id).',
    tools: tools('—', '—', '—', '— (secure-workspace guidance)'),
    check: (r) =>
      expectBool(r, 'node_public_ip_enabled', { want: false, missing: 'fail', missingNote: 'default true' }),
  }),
  { ...SSH, id: 'CC-04', types: [CLUSTER], check: clusterSsh },
  { ...SSH, id: 'CI-04', types: [INSTANCE], check: instanceSsh },
  ...both('CC-05', 'CI-05', {
    severity: 'medium',
    title: 'Compute managed identity',
    rationale: 'A managed identity reaches storage and Key Vault without stored secrets.',
    fix: 'Add identity { type = "UserAssigned" or "SystemAssigned" }.',
    tools: tools(),
    check: identity,
  }),
  {
    id: 'CI-06',
    severity: 'low',
    title: 'Compute instance idle shutdown',
    types: [INSTANCE],
    rationale: 'Idle instances keep data mounted and cost money; azurerm cannot set it, azapi can.',
    fix: 'Create the instance with azapi_resource and set properties.properties.idleTimeBeforeShutdown (e.g. "PT30M").',
    tools: tools('—', '—', '—', '679ddf89; Azure.ML.ComputeIdleShutdown'),
    check: idle,
  },
  {
    id: 'CI-07',
    severity: 'info',
    title: 'Personal, assigned compute instance',
    types: [INSTANCE],
    rationale: 'A personal instance is used by one person, so its actions are attributable.',
    fix: 'Set authorization_type = "personal" and assign_to_user { object_id, tenant_id }.',
    tools: tools(),
    check: personal,
  },
  {
    id: 'CC-06',
    severity: 'info',
    title: 'Cluster scales to zero',
    types: [CLUSTER],
    rationale: 'Idle nodes cost money (a cost check, not a security one).',
    fix: 'Set scale_settings { min_node_count = 0 }.',
    tools: tools('CKV_AZURE_150'),
    check: scaleToZero,
  },
];
