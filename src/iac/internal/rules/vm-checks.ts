import type { Graph } from '../graph.js';
import type { Resource } from '../resource.js';
import { fail, pass, unknown, type Verdict, warn } from '../rule.js';
import { asBool, asList, asString, isRef, Unknown } from '../values.js';
import { isSet } from './checks.js';

/** AMD SEV-SNP (DCasv5/DCadsv5/ECasv5/ECadsv5 and v6), Intel TDX (DCesv5/ECesv5) and H100 confidential GPU sizes. */
const CONFIDENTIAL_SIZE = /^Standard_(?:(?:DC|EC)\d+(?:as|ads|es|eds)_v[56]|NCC\d+ads_H100_v5)$/i;

const isConfidentialSize = (size: string): boolean => CONFIDENTIAL_SIZE.test(size);

/** The OS disk's security_encryption_type, or undefined. */
function encryptionType(r: Resource): string | Unknown | undefined {
  return asString(r.blocks('os_disk')[0]?.get('security_encryption_type'));
}

/** VM-02: encryption at host, with confidential VMs exempt (the provider forbids both). */
export function hostEncryption(r: Resource): Verdict {
  const type = encryptionType(r);
  if (type === 'DiskWithVMGuestState')
    return pass(
      'confidential VM (DiskWithVMGuestState): exempt; the provider forbids encryption at host here',
    );
  const v = asBool(r.get('encryption_at_host_enabled'));
  if (v instanceof Unknown)
    return unknown(`encryption_at_host_enabled: ${v.reason}`, 'encryption_at_host_enabled');
  if (type instanceof Unknown && v !== true)
    return unknown(`os_disk.security_encryption_type: ${type.reason}`);
  return v === true
    ? pass('encryption at host', 'encryption_at_host_enabled')
    : fail('encryption_at_host_enabled is not true', 'encryption_at_host_enabled');
}

/** VM-03: a confidential VM size, confidential OS-disk encryption, secure boot and vTPM. */
export function confidentialVm(r: Resource): Verdict {
  const missing: string[] = [];
  const size = asString(r.get('size'));
  if (size instanceof Unknown) return unknown(`size: ${size.reason}`, 'size');
  if (!size || !isConfidentialSize(size))
    missing.push(`size ${size ?? '(not set)'} is not a confidential size (DCasv5/ECasv5 …)`);
  const type = encryptionType(r);
  if (type instanceof Unknown) return unknown(`os_disk.security_encryption_type: ${type.reason}`, 'os_disk');
  for (const attr of ['secure_boot_enabled', 'vtpm_enabled']) {
    const v = asBool(r.get(attr));
    if (v instanceof Unknown) return unknown(`${attr}: ${v.reason}`, attr);
    if (v !== true) missing.push(`${attr} = true`);
  }
  if (type !== 'DiskWithVMGuestState' && type !== 'VMGuestStateOnly')
    missing.push('os_disk.security_encryption_type = "DiskWithVMGuestState"');
  if (missing.length > 0) return fail(`not a confidential VM: ${missing.join('; ')}`);
  if (type === 'VMGuestStateOnly')
    return warn('VMGuestStateOnly encrypts the VM guest state but not the OS disk', 'os_disk');
  return pass('confidential VM with confidential OS-disk encryption, secure boot and vTPM');
}

/** VM-04: the OS disk (or a managed disk) encrypted with a customer-managed key. */
export function diskCmk(r: Resource): Verdict {
  const disk = r.type === 'azurerm_managed_disk' ? r : r.blocks('os_disk')[0];
  if (!disk) return unknown('no os_disk block');
  for (const attr of ['disk_encryption_set_id', 'secure_vm_disk_encryption_set_id']) {
    const s = isSet(disk, attr);
    if (s instanceof Unknown) return unknown(`${attr}: ${s.reason}`);
    if (s) return pass(`${attr} set (customer-managed key)`);
  }
  return fail('no disk_encryption_set_id or secure_vm_disk_encryption_set_id (platform-managed key only)');
}

/** VM-05: no NIC of the VM has a public IP. */
export function vmPublicIp(r: Resource, g: Graph): Verdict {
  const ids = asList(r.get('network_interface_ids'));
  if (ids instanceof Unknown) return unknown(`network_interface_ids: ${ids.reason}`);
  for (const id of ids ?? []) {
    const nic = g.resolve(id);
    if (!nic)
      return unknown(`network interface ${isRef(id) ? id.address : String(id)} is not in this configuration`);
    for (const ip of nic.blocks('ip_configuration')) {
      const s = isSet(ip, 'public_ip_address_id');
      if (s instanceof Unknown) return unknown(`${nic.address} public_ip_address_id: ${s.reason}`);
      if (s) return fail(`${nic.address} has a public IP`);
    }
  }
  return pass('no network interface has a public IP');
}

const SECRET =
  /(password|passwd|secret|api[_-]?key|token)\s*[=:]\s*\S|BEGIN [A-Z ]*PRIVATE KEY|AccountKey=|[?&]sig=/i;

/** VM-06: no secrets in custom_data (plain or base64). */
export function customData(r: Resource): Verdict {
  const v = r.get('custom_data');
  if (v === undefined || v === null) return pass('no custom_data');
  const s = asString(v);
  if (s instanceof Unknown) return unknown(`custom_data: ${s.reason}`, 'custom_data');
  const decoded = /^[A-Za-z0-9+/=\s]+$/.test(s ?? '') ? Buffer.from(s ?? '', 'base64').toString('utf8') : '';
  if (SECRET.test(s ?? '') || SECRET.test(decoded))
    return fail('custom_data contains what looks like a secret', 'custom_data');
  return pass('custom_data has no secret-like content');
}

/** VM-03b: confidential OS-disk encryption on managed disks (only for OS disks that can have it). */
export function managedDiskSecurity(r: Resource): Verdict | undefined {
  const type = asString(r.get('security_type'));
  if (type instanceof Unknown) return unknown(`security_type: ${type.reason}`, 'security_type');
  if (type === undefined) {
    const create = asString(r.get('create_option'));
    if (create instanceof Unknown) return unknown(`create_option: ${create.reason}`, 'create_option');
    if (create !== 'FromImage' && create !== 'Import') return undefined;
    return fail('OS disk without security_type (no confidential disk encryption)');
  }
  if (/^ConfidentialVM_DiskEncryptedWith(PlatformKey|CustomerKey)$/.test(type))
    return pass(`security_type = ${type}`, 'security_type');
  if (/VMGuestStateOnly/.test(type))
    return warn(`security_type = ${type} encrypts only the guest state`, 'security_type');
  return fail(`security_type = ${type}`, 'security_type');
}

/** XC-02 / secrets: a literal secret in the configuration (and so in state). */
export function literalSecret(attr: string) {
  return (r: Resource): Verdict | undefined => {
    const v = r.get(attr);
    if (v === undefined || v === null) return undefined;
    if (isRef(v)) return pass(`${attr} comes from ${v.address}`);
    if (v instanceof Unknown)
      return /has no value/.test(v.reason)
        ? pass(`${attr} is supplied at apply time`)
        : unknown(`${attr}: ${v.reason}`, attr);
    if (typeof v === 'string' && v.includes('\u{E000}'))
      return pass(`${attr} is built from another resource`);
    return fail(`${attr} is a literal in the configuration (and the state)`, attr);
  };
}
