import { fail, pass, type Rule, tools, unknown } from '../rule.js';
import { Unknown } from '../values.js';
import { expectBool, isSet, presence } from './checks.js';
import {
  confidentialVm,
  customData,
  diskCmk,
  hostEncryption,
  literalSecret,
  managedDiskSecurity,
  vmPublicIp,
} from './vm-checks.js';

const LINUX = 'azurerm_linux_virtual_machine';
const VMS = [LINUX, 'azurerm_windows_virtual_machine'];

/** Virtual machine and confidential-computing rules (VM-01 … VM-08) and literal secrets (XC-02). */
export const VM_RULES: Rule[] = [
  {
    id: 'VM-01',
    severity: 'high',
    title: 'SSH keys, no password (Linux)',
    types: [LINUX],
    rationale: 'Passwords can be guessed; keys cannot.',
    fix: 'Keep disable_password_authentication = true (the default), add admin_ssh_key, remove admin_password.',
    tools: tools(
      'CKV_AZURE_1, CKV_AZURE_149, CKV_AZURE_178',
      'AZU-0039',
      'dafe30ec, vm_without_admin_ssh_public_key_set',
    ),
    check: (r) => {
      const v = expectBool(r, 'disable_password_authentication', {
        want: true,
        missing: 'pass',
        missingNote: 'default true',
      });
      if (v.status !== 'pass') return v;
      return isSet(r, 'admin_password') === true ? fail('admin_password is set', 'admin_password') : v;
    },
  },
  {
    id: 'VM-02',
    severity: 'medium',
    title: 'Encryption at host (confidential VMs exempt)',
    types: VMS,
    rationale:
      'Temp disks and caches are otherwise unencrypted; confidential VMs encrypt memory and disk themselves and may not set it.',
    fix: 'Set encryption_at_host_enabled = true, or make it a confidential VM (VM-03).',
    tools: tools('CKV_AZURE_151, CKV_AZURE_97', '—', '30c7c2f1', 'fc4d8e41'),
    check: hostEncryption,
  },
  {
    id: 'VM-03',
    severity: 'high',
    title: 'Confidential VM for sensitive training',
    types: VMS,
    rationale:
      'Only a confidential VM (SEV-SNP/TDX) protects data in use from the host, and only it can pass attestation for key release.',
    fix: 'Use a DCasv5/ECasv5 (or DCesv5/ECesv5, NCCadsH100v5) size, os_disk.security_encryption_type = "DiskWithVMGuestState", secure_boot_enabled = true, vtpm_enabled = true.',
    tools: tools('—', '—', '—', 'c95b54ad, b03bb370, b1bb3592, 97566dd7, 1c30f9cd'),
    check: confidentialVm,
  },
  {
    id: 'VM-03b',
    severity: 'high',
    title: 'Confidential OS-disk encryption on managed disks',
    types: ['azurerm_managed_disk'],
    rationale: 'An OS disk for a confidential VM should bind its encryption to the VM state.',
    fix: 'Set security_type = "ConfidentialVM_DiskEncryptedWithCustomerKey" (or …WithPlatformKey).',
    tools: tools(),
    check: managedDiskSecurity,
  },
  {
    id: 'VM-04',
    severity: 'medium',
    title: 'Disks encrypted with a customer-managed key',
    types: [...VMS, 'azurerm_managed_disk'],
    rationale: 'A disk encryption set with your key lets you revoke access to the disks.',
    fix: 'Set os_disk.disk_encryption_set_id, or for confidential VMs os_disk.secure_vm_disk_encryption_set_id (encryption_type = "ConfidentialVmEncryptedWithCustomerKey").',
    tools: tools('CKV_AZURE_93, CKV_AZURE_2', 'AZU-0038', 'a99130ab', '702dd420, ca91455f'),
    check: diskCmk,
  },
  {
    id: 'VM-05',
    severity: 'high',
    title: 'VM without public IP',
    types: VMS,
    rationale: 'A training VM needs no inbound path from the internet.',
    fix: 'Remove public_ip_address_id from the VM’s network interfaces.',
    tools: tools('CKV_AZURE_119, CKV2_AZURE_39', 'AZU-0076', 'c1573577'),
    check: vmPublicIp,
  },
  {
    id: 'VM-06',
    severity: 'medium',
    title: 'No secrets in custom_data',
    types: VMS,
    rationale: 'custom_data is readable from the VM metadata and stored in state.',
    fix: 'Fetch secrets at boot with the managed identity (Key Vault) instead.',
    tools: tools('CKV_AZURE_45', 'AZU-0037'),
    check: customData,
  },
  {
    id: 'VM-07',
    severity: 'medium',
    title: 'VM managed identity',
    types: VMS,
    rationale: 'The VM reaches Key Vault and storage with its identity instead of stored secrets.',
    fix: 'Add identity { type = "UserAssigned" or "SystemAssigned" }.',
    tools: tools(),
    check: (r) => {
      const p = presence(r, 'identity');
      if (p instanceof Unknown) return unknown(`identity: ${p.reason}`, 'identity');
      return p ? pass('managed identity', 'identity') : fail('no identity block');
    },
  },
  {
    id: 'VM-08',
    severity: 'low',
    title: 'Managed disks, no disk public access',
    types: ['azurerm_managed_disk', 'azurerm_virtual_machine'],
    rationale:
      'Unmanaged VHDs live in storage accounts; a disk with public network access can be exported from anywhere.',
    fix: 'Use managed disks; set public_network_access_enabled = false on azurerm_managed_disk.',
    tools: tools('CKV_AZURE_92, CKV_AZURE_251', '—', 'vm_without_managed_disk', 'f39f5f49'),
    check: (r) => {
      if (r.type === 'azurerm_virtual_machine') {
        const vhd = r.blocks('storage_os_disk')[0];
        return vhd && isSet(vhd, 'vhd_uri') === true
          ? fail('unmanaged OS disk (vhd_uri)', 'storage_os_disk')
          : pass('managed OS disk');
      }
      return expectBool(r, 'public_network_access_enabled', {
        want: false,
        missing: 'fail',
        missingNote: 'default true',
      });
    },
  },
  {
    id: 'XC-02',
    severity: 'high',
    title: 'No literal secrets',
    types: ['azurerm_key_vault_secret', ...VMS],
    rationale: 'A secret written in the configuration is in version control and in the state.',
    fix: 'Generate it (random_password), supply it at apply time, or use managed identities (ST-07, CR-01, CC-01, AKS-02, WS-05, VM-07).',
    tools: tools('—', '—', '—', '—'),
    check: (r) => literalSecret(r.type === 'azurerm_key_vault_secret' ? 'value' : 'admin_password')(r),
  },
];
