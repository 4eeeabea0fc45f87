import type { Block } from '../block.js';
import type { Graph } from '../graph.js';
import type { Resource } from '../resource.js';
import { fail, pass, type Rule, tools, unknown, type Verdict } from '../rule.js';
import { asBool, asNumber, asString, Unknown } from '../values.js';
import { expectBool, isSet } from './checks.js';
import { allowsFromInternet, portsOf } from './nsg-match.js';

const NSG = 'azurerm_network_security_group';
const RULE = 'azurerm_network_security_rule';

/** The security rules of an NSG (inline blocks) or the standalone rule itself. */
function rulesOf(r: Resource): { rules: Block[]; dynamic: boolean } {
  if (r.type === RULE) return { rules: [r], dynamic: false };
  return { rules: r.blocks('security_rule'), dynamic: r.isDynamic('security_rule') };
}

function exposure(port: number | undefined, protocols: readonly string[], what: string) {
  return (r: Resource): Verdict => {
    const { rules } = rulesOf(r);
    let open: Unknown | undefined;
    for (const rule of rules) {
      if (port === undefined && [22, 3389].some((p) => allowsFromInternet(rule, p, protocols) === true)) {
        if (
          portsOf(rule)
            .split(',')
            .every((p) => p === '22' || p === '3389')
        )
          continue;
      }
      const hit = allowsFromInternet(rule, port, protocols);
      if (hit === true)
        return fail(
          `rule "${asString(rule.get('name')) ?? '?'}" allows ${what} (ports ${portsOf(rule)}) from the internet`,
          r.type === NSG ? 'security_rule' : undefined,
        );
      if (hit instanceof Unknown) open ??= hit;
    }
    if (open) return unknown(`a security rule cannot be resolved: ${open.reason}`);
    return pass(`no rule allows ${what} from the internet`);
  };
}

const EXEMPT_SUBNETS = new Set([
  'gatewaysubnet',
  'azurefirewallsubnet',
  'azurefirewallmanagementsubnet',
  'azurebastionsubnet',
  'routeserversubnet',
]);

function subnetNsg(r: Resource, g: Graph): Verdict | undefined {
  if (r.type === 'azurerm_virtual_network') {
    const bare = r.blocks('subnet').filter((s) => isSet(s, 'security_group') === false);
    if (r.blocks('subnet').length === 0) return undefined;
    return bare.length === 0
      ? pass('every inline subnet has security_group')
      : fail(
          `inline subnets without security_group: ${bare.map((s) => asString(s.get('name')) ?? '?').join(', ')}`,
          'subnet',
        );
  }
  const name = asString(r.get('name'));
  if (typeof name === 'string' && EXEMPT_SUBNETS.has(name.toLowerCase())) return undefined;
  if (g.nsgOfSubnet.of(r.address).length > 0) return pass('associated with an NSG');
  if (g.nsgOfSubnet.unresolved > 0)
    return unknown('NSG associations point at subnets this scan cannot resolve');
  return fail('no azurerm_subnet_network_security_group_association for this subnet');
}

function nicPublicIp(r: Resource): Verdict {
  for (const ip of r.blocks('ip_configuration')) {
    const s = isSet(ip, 'public_ip_address_id');
    if (s instanceof Unknown)
      return unknown(`ip_configuration.public_ip_address_id: ${s.reason}`, 'ip_configuration');
    if (s) return fail('ip_configuration has a public_ip_address_id', 'ip_configuration');
  }
  return pass('no public IP');
}

/** Flow logs of the NSG itself, or of the virtual networks of the subnets it is attached to. */
function flowLogsOf(r: Resource, g: Graph): Block[] {
  const vnets = g.subnetsOfNsg.of(r.address).map((s) => g.vnetOf(s));
  return [...g.flowLogs.of(r.address), ...vnets.flatMap((v) => (v ? g.flowLogs.of(v) : []))];
}

function flowLogs(r: Resource, g: Graph): Verdict {
  const logs = flowLogsOf(r, g);
  if (logs.length === 0)
    return g.flowLogs.unresolved > 0
      ? unknown('flow logs point at resources this scan cannot resolve')
      : fail('no azurerm_network_watcher_flow_log for this NSG');
  for (const log of logs) {
    const enabled = asBool(log.get('enabled'));
    const rp = log.blocks('retention_policy')[0];
    const days = rp ? asNumber(rp.get('days')) : undefined;
    const on = rp ? asBool(rp.get('enabled')) : false;
    if (enabled instanceof Unknown || days instanceof Unknown || on instanceof Unknown)
      return unknown('flow log settings cannot be resolved');
    if (enabled !== false && on === true && (days === 0 || (days ?? 0) >= 90))
      return pass('flow log kept for 90 days or more');
  }
  return fail('flow log disabled or kept for less than 90 days');
}

const NSG_TOOLS = (checkov: string, trivy: string, kics: string) =>
  tools(checkov, trivy, kics, '22730e10 (runtime)');

/** Network rules (NW-01 … NW-07). */
export const NETWORK_RULES: Rule[] = [
  {
    id: 'NW-01',
    severity: 'critical',
    title: 'No SSH (22) from the internet',
    types: [NSG, RULE],
    rationale:
      'Internet-facing SSH is brute-forced within minutes. Sources matched: *, 0.0.0.0, any /0 (incl. ::/0), Internet, Any.',
    fix: 'Restrict source_address_prefix(es) to your networks or use Azure Bastion.',
    tools: NSG_TOOLS('CKV_AZURE_10', 'AZU-0050', '3e3c175e'),
    check: exposure(22, ['Tcp', '*'], 'SSH'),
  },
  {
    id: 'NW-02',
    severity: 'critical',
    title: 'No RDP (3389) from the internet',
    types: [NSG, RULE],
    rationale: 'Internet-facing RDP is a common way in (TCP and UDP).',
    fix: 'Restrict source_address_prefix(es) to your networks or use Azure Bastion.',
    tools: NSG_TOOLS('CKV_AZURE_9', 'AZU-0048', 'efbf6449'),
    check: exposure(3389, ['Tcp', 'Udp', '*'], 'RDP'),
  },
  {
    id: 'NW-03',
    severity: 'high',
    title: 'No other ports open to the internet',
    types: [NSG, RULE],
    rationale: 'Confidential training needs no inbound traffic from the internet at all.',
    fix: 'Remove inbound Allow rules whose source is the internet, or narrow the source.',
    tools: tools('CKV_AZURE_160, CKV_AZURE_77', 'AZU-0047, AZU-0074', '594c198b', '9daedab3'),
    check: exposure(undefined, ['Tcp', 'Udp', 'Icmp', '*'], 'inbound traffic'),
  },
  {
    id: 'NW-04',
    severity: 'medium',
    title: 'Subnets have an NSG',
    types: ['azurerm_subnet', 'azurerm_virtual_network'],
    rationale: 'A subnet without an NSG accepts whatever its routes deliver.',
    fix: 'Add an azurerm_subnet_network_security_group_association (gateway, firewall and Bastion subnets are exempt).',
    tools: tools('CKV2_AZURE_31', '—', '5c822443', 'f6de0be7, bb91dfba'),
    check: subnetNsg,
  },
  {
    id: 'NW-05',
    severity: 'high',
    title: 'No public IP on NICs',
    types: ['azurerm_network_interface'],
    rationale: 'A public IP puts the VM on the internet, whatever its NSG says today.',
    fix: 'Remove public_ip_address_id; reach the VM through Bastion or a private network.',
    tools: tools('CKV_AZURE_119, CKV2_AZURE_39', 'AZU-0076', 'c1573577'),
    check: nicPublicIp,
  },
  {
    id: 'NW-06',
    severity: 'medium',
    title: 'No IP forwarding',
    types: ['azurerm_network_interface'],
    rationale: 'A forwarding NIC can route traffic around your NSGs.',
    fix: 'Remove ip_forwarding_enabled = true (azurerm 3.x: enable_ip_forwarding).',
    tools: tools('CKV_AZURE_118', 'AZU-0075', '4216ebac'),
    check: (r) =>
      expectBool(r, 'ip_forwarding_enabled', { want: false, missing: 'pass', missingNote: 'default false' }),
  },
  {
    id: 'NW-07',
    severity: 'low',
    title: 'NSG flow logs kept 90 days',
    types: [NSG],
    rationale: 'Flow logs show which connections reached the training network.',
    fix: 'Add an azurerm_network_watcher_flow_log for the NSG or for the VNet of its subnets (VNet flow logs replace NSG flow logs) with enabled = true and retention_policy { enabled = true, days = 90 }.',
    tools: tools('CKV_AZURE_12', 'AZU-0049, AZU-0073', '7750fcca, b90842e5', 'c251913d'),
    check: flowLogs,
  },
];
