import type { Resource } from '../resource.js';
import { fail, pass, type Rule, tools, unknown, type Verdict } from '../rule.js';
import { asBool, asString, Unknown } from '../values.js';
import { allOf, expectBool, expectDiagnostics, expectEndpoint, isSet, presence } from './checks.js';

const KV = ['azurerm_key_vault'];

function firewall(r: Resource): Verdict {
  const acl = r.blocks('network_acls')[0];
  const action = acl ? asString(acl.get('default_action')) : undefined;
  if (action instanceof Unknown)
    return unknown(`network_acls.default_action: ${action.reason}`, 'network_acls');
  if (action === 'Deny') return pass('network_acls.default_action = "Deny"', 'network_acls');
  if (asBool(r.get('public_network_access_enabled')) === false)
    return pass('public network access is disabled, so the firewall default does not apply');
  return fail(
    acl ? `network_acls.default_action = "${action}"` : 'no network_acls block (default Allow)',
    'network_acls',
  );
}

const HSM_TYPES = new Set(['RSA-HSM', 'EC-HSM', 'oct-HSM']);

function keyHygiene(r: Resource): Verdict {
  const missing: string[] = [];
  const unknowns: string[] = [];
  const type = asString(r.get('key_type'));
  if (type instanceof Unknown) unknowns.push(`key_type (${type.reason})`);
  else if (!type || !HSM_TYPES.has(type)) missing.push(`key_type ${type ?? '(not set)'} is not HSM-backed`);
  const exp = isSet(r, 'expiration_date');
  if (exp instanceof Unknown) unknowns.push(`expiration_date (${exp.reason})`);
  else if (!exp) missing.push('expiration_date');
  const rot = presence(r, 'rotation_policy');
  if (rot instanceof Unknown) unknowns.push(`rotation_policy (${rot.reason})`);
  else if (!rot) missing.push('rotation_policy');
  return allOf(missing, unknowns, 'HSM-backed key with expiry and rotation policy');
}

function secretHygiene(r: Resource): Verdict {
  const missing: string[] = [];
  const unknowns: string[] = [];
  for (const attr of ['expiration_date', 'content_type']) {
    const s = isSet(r, attr);
    if (s instanceof Unknown) unknowns.push(`${attr} (${s.reason})`);
    else if (!s) missing.push(attr);
  }
  return allOf(missing, unknowns, 'secret has an expiry and a content type');
}

/** Key Vault rules (KV-01 … KV-09). */
export const KEYVAULT_RULES: Rule[] = [
  {
    id: 'KV-01',
    severity: 'high',
    title: 'Key Vault purge protection',
    types: KV,
    rationale:
      'Without purge protection a deleted vault and its keys can be destroyed for good, or replaced.',
    fix: 'Set purge_protection_enabled = true.',
    tools: tools('CKV_AZURE_110, CKV_AZURE_42', 'AZU-0016', 'cec6e005', '0b60c0b2'),
    check: (r) =>
      expectBool(r, 'purge_protection_enabled', {
        want: true,
        missing: 'fail',
        missingNote: 'default false',
      }),
  },
  {
    id: 'KV-02',
    severity: 'medium',
    title: 'Key Vault soft delete',
    types: KV,
    rationale: 'Soft delete lets a deleted key be recovered; it is always on in azurerm 3 and later.',
    fix: 'Remove soft_delete_enabled = false (azurerm 2.x) and keep soft_delete_retention_days at 7–90.',
    tools: tools('CKV_AZURE_111, CKV_AZURE_42', 'AZU-0016 (retention)', '—', '1e66c121'),
    check: (r) =>
      expectBool(r, 'soft_delete_enabled', {
        want: true,
        missing: 'pass',
        missingNote: 'always on in azurerm ≥ 3',
      }),
  },
  {
    id: 'KV-03',
    severity: 'medium',
    title: 'Key Vault firewall denies by default',
    types: KV,
    rationale: 'A vault that accepts any network lets stolen credentials be used from anywhere.',
    fix: 'Add network_acls { default_action = "Deny", bypass = "AzureServices" } (or disable public network access).',
    tools: tools('CKV_AZURE_109', 'AZU-0013', '—', '55615ac9'),
    check: firewall,
  },
  {
    id: 'KV-04',
    severity: 'high',
    title: 'Key Vault public network access disabled',
    types: KV,
    rationale: 'Keys that release only to attested VMs should not be reachable from the internet at all.',
    fix: 'Set public_network_access_enabled = false and reach the vault through a private endpoint.',
    tools: tools('CKV_AZURE_189', '—', 'e8d97749', '405c5871'),
    check: (r) =>
      expectBool(r, 'public_network_access_enabled', {
        want: false,
        missing: 'fail',
        missingNote: 'default true',
      }),
  },
  {
    id: 'KV-05',
    severity: 'high',
    title: 'Key Vault private endpoint',
    types: KV,
    rationale: 'A private endpoint keeps key operations on your network.',
    fix: 'Add an azurerm_private_endpoint with private_connection_resource_id = <vault>.id and subresource_names = ["vault"].',
    tools: tools('CKV2_AZURE_32', '—', 'dda11a20', 'a6abeaec'),
    check: (r, g) => expectEndpoint(r, g, 'vault'),
  },
  {
    id: 'KV-06',
    severity: 'medium',
    title: 'Key Vault audit logs',
    types: KV,
    rationale: 'Every key release and unwrap should be on record.',
    fix: 'Add an azurerm_monitor_diagnostic_setting with target_resource_id = <vault>.id (category group "audit").',
    tools: tools('—', '—', '38c71c00', 'cf820ca0, 951af2fa'),
    check: expectDiagnostics,
  },
  {
    id: 'KV-07',
    severity: 'medium',
    title: 'Keys are HSM-backed, expire and rotate',
    types: ['azurerm_key_vault_key'],
    rationale:
      'Software keys can be exported by anyone with access; keys that never expire or rotate stay exposed.',
    fix: 'Use key_type "RSA-HSM" or "EC-HSM" (Premium vault), set expiration_date and a rotation_policy block.',
    tools: tools(
      'CKV_AZURE_40, CKV_AZURE_112',
      'AZU-0014',
      '4d080822; key_vault_without_hsm_protection; azure_key_vault_key_rotation_disabled',
    ),
    check: keyHygiene,
  },
  {
    id: 'KV-08',
    severity: 'low',
    title: 'Secrets expire and declare a content type',
    types: ['azurerm_key_vault_secret'],
    rationale: 'Secrets without expiry are never rotated.',
    fix: 'Set expiration_date and content_type.',
    tools: tools('CKV_AZURE_41, CKV_AZURE_114', 'AZU-0017, AZU-0015', 'dfa20ffa, f8e08a38'),
    check: secretHygiene,
  },
  {
    id: 'KV-09',
    severity: 'low',
    title: 'Key Vault uses RBAC authorization',
    types: KV,
    rationale: 'Access policies are per vault and not audited like Azure RBAC role assignments.',
    fix: 'Set rbac_authorization_enabled = true (azurerm 3.x: enable_rbac_authorization) and grant roles.',
    tools: tools('—', '—', '—', '12d4fa5e-1f9f-4c21-97a9-b99b3c6611b5'),
    check: (r) =>
      expectBool(r, 'rbac_authorization_enabled', {
        want: true,
        missing: 'fail',
        missingNote: 'default: access policies',
      }),
  },
];
