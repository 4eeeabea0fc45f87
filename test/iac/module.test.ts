import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { activeFindings, scanPaths } from '../../src/iac/index.js';

const MODULE = fileURLToPath(new URL('../../infra/terraform/azure-confidential-training', import.meta.url));
const EXAMPLE = `${MODULE}/terraform.tfvars.example`;

describe('infra/terraform/azure-confidential-training', () => {
  it.each([
    ['with its defaults (no Azure ML workspace)', []],
    ['with the example tfvars (Azure ML workspace on)', [EXAMPLE]],
  ])('scans clean %s', async (_, varFiles) => {
    const report = await scanPaths([MODULE], { varFiles, env: {} });
    expect(report.problems).toEqual([]);
    expect(activeFindings(report).map((f) => `${f.ruleId} ${f.resource}: ${f.message}`)).toEqual([]);
    const passed = (rule: string, resource: string) =>
      report.findings.some((f) => f.ruleId === rule && f.resource === resource && f.status === 'pass');
    expect(passed('VM-03', 'azurerm_linux_virtual_machine.cvm')).toBe(true);
    expect(passed('VM-02', 'azurerm_linux_virtual_machine.cvm')).toBe(true);
    expect(passed('KV-07', 'azapi_resource.training_key')).toBe(true);
    expect(passed('ST-08', 'azurerm_storage_account.main')).toBe(true);
    expect(passed('NW-07', 'azurerm_network_security_group.compute')).toBe(true);
  });

  it('the workspace is scanned through its azapi body when enabled', async () => {
    const report = await scanPaths([MODULE], { varFiles: [EXAMPLE], env: {} });
    const ws = report.findings.filter(
      (f) => f.resource === 'azapi_resource.workspace' && f.ruleId.startsWith('WS-'),
    );
    expect(ws.map((f) => f.ruleId).sort()).toEqual([
      'WS-01',
      'WS-02',
      'WS-03',
      'WS-04',
      'WS-05',
      'WS-06',
      'WS-07',
      'WS-08',
      'WS-09',
      'WS-10',
    ]);
    expect(ws.every((f) => f.status === 'pass')).toBe(true);
  });
});
