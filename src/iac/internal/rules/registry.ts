import type { Resource } from '../resource.js';
import { fail, pass, type Rule, tools, unknown, type Verdict } from '../rule.js';
import { asBool, asNumber, asString, Unknown } from '../values.js';
import { allOf, expectBool, expectEndpoint, presence } from './checks.js';

const CR = ['azurerm_container_registry'];

function cmk(r: Resource): Verdict {
  const p = presence(r, 'encryption');
  if (p instanceof Unknown) return unknown(`encryption: ${p.reason}`, 'encryption');
  const block = r.blocks('encryption')[0];
  if (!p || asBool(block?.get('enabled')) === false)
    return fail('no encryption block with a customer-managed key');
  return pass('customer-managed key', 'encryption');
}

/** Supply-chain settings, reading the azurerm 3.x blocks and the 4.x flat attributes. */
function hygiene(r: Resource): Verdict {
  const missing: string[] = [];
  const unknowns: string[] = [];
  const sku = asString(r.get('sku'));
  if (sku instanceof Unknown) unknowns.push('sku');
  else if (sku !== 'Premium')
    missing.push(`sku ${sku ?? '(not set)'} (Premium needed for private endpoints and trust policy)`);
  const flag = (name: string, v: unknown, want: boolean) => {
    if (v instanceof Unknown) unknowns.push(name);
    else if (v !== want) missing.push(`${name} = ${want}`);
  };
  flag('quarantine_policy_enabled', asBool(r.get('quarantine_policy_enabled')), true);
  flag(
    'trust_policy_enabled',
    asBool(r.get('trust_policy_enabled') ?? r.blocks('trust_policy')[0]?.get('enabled')),
    true,
  );
  const retention = asNumber(
    r.get('retention_policy_in_days') ?? r.blocks('retention_policy')[0]?.get('days'),
  );
  if (retention instanceof Unknown) unknowns.push('retention_policy');
  else if (retention === undefined) missing.push('retention_policy_in_days');
  flag('export_policy_enabled', asBool(r.get('export_policy_enabled') ?? true), false);
  return allOf(missing, unknowns, 'Premium registry with quarantine, trust, retention and no export');
}

/** Container registry rules (CR-01 … CR-06). */
export const REGISTRY_RULES: Rule[] = [
  {
    id: 'CR-01',
    severity: 'high',
    title: 'Registry admin user disabled',
    types: CR,
    rationale:
      'The admin user is a shared password with push rights. Modern Azure ML attaches registries through managed identity and does not need it.',
    fix: 'Set admin_enabled = false and grant AcrPull/AcrPush roles to identities.',
    tools: tools('CKV_AZURE_137', '—', 'b897dfbf, bd252825', 'dc921057, 79fdfe03'),
    check: (r) =>
      expectBool(r, 'admin_enabled', { want: false, missing: 'pass', missingNote: 'default false' }),
  },
  {
    id: 'CR-02',
    severity: 'high',
    title: 'Registry public network access disabled',
    types: CR,
    rationale: 'Training images are code that sees decrypted data; their registry should not be public.',
    fix: 'Set public_network_access_enabled = false (Premium SKU) and use a private endpoint.',
    tools: tools('CKV_AZURE_139', '—', '—', '0fdf0491, d0793b48'),
    check: (r) =>
      expectBool(r, 'public_network_access_enabled', {
        want: false,
        missing: 'fail',
        missingNote: 'default true',
      }),
  },
  {
    id: 'CR-03',
    severity: 'high',
    title: 'Anonymous pull disabled',
    types: CR,
    rationale: 'Anonymous pull publishes every image.',
    fix: 'Remove anonymous_pull_enabled = true.',
    tools: tools('CKV_AZURE_138', '—', '—', '9f2dea28'),
    check: (r) =>
      expectBool(r, 'anonymous_pull_enabled', { want: false, missing: 'pass', missingNote: 'default false' }),
  },
  {
    id: 'CR-04',
    severity: 'medium',
    title: 'Registry private endpoint',
    types: CR,
    rationale: 'Images should be pulled over your network.',
    fix: 'Add an azurerm_private_endpoint with subresource_names = ["registry"] (Premium SKU).',
    tools: tools('—', '—', 'dda11a20', 'e8eef0a8, bd560fc0'),
    check: (r, g) => expectEndpoint(r, g, 'registry'),
  },
  {
    id: 'CR-05',
    severity: 'low',
    title: 'Registry customer-managed key',
    types: CR,
    rationale: 'A key the owner controls (advisory).',
    fix: 'Add encryption { key_vault_key_id, identity_client_id }.',
    tools: tools('—', '—', '—', '5b9159ae'),
    check: cmk,
  },
  {
    id: 'CR-06',
    severity: 'info',
    title: 'Registry supply-chain hygiene',
    types: CR,
    rationale:
      'Quarantine, content trust, retention and no export keep unvetted images out and vetted ones in.',
    fix: 'Use sku = "Premium", quarantine_policy_enabled = true, trust_policy_enabled = true, retention_policy_in_days, export_policy_enabled = false.',
    tools: tools(
      'CKV_AZURE_164, CKV_AZURE_166, CKV_AZURE_167, CKV_AZURE_237, CKV_AZURE_163',
      '—',
      'azure_container_registry_with_no_locks',
      '524b0254',
    ),
    check: hygiene,
  },
];
