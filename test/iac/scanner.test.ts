import { describe, expect, it } from 'vitest';
import { parseBaseline, scanSources } from '../../src/iac/index.js';
import { rejectsWith } from '../helpers/rejects.js';
import { findingOf, scanText } from './helpers.js';

const KV = 'azurerm_key_vault.kv';
const kvWith = (expr: string) =>
  `resource "azurerm_key_vault" "kv" {\n  name = "kv"\n  purge_protection_enabled = ${expr}\n}\n`;

async function kv01(main: string, more: Record<string, string> = {}, env: Record<string, string> = {}) {
  return findingOf(await scanText(main, more, { env }), 'KV-01', KV).status;
}

describe('variables are resolved the way Terraform does', () => {
  const decl = 'variable "purge" {\n  type = bool\n  default = false\n}\n';
  it('uses the default', async () => {
    expect(await kv01(decl + kvWith('var.purge'))).toBe('fail');
  });
  it('TF_VAR_ overrides the default', async () => {
    expect(await kv01(decl + kvWith('var.purge'), {}, { TF_VAR_purge: 'true' })).toBe('pass');
  });
  it('terraform.tfvars overrides TF_VAR_, and *.auto.tfvars overrides terraform.tfvars', async () => {
    expect(
      await kv01(
        decl + kvWith('var.purge'),
        { 'terraform.tfvars': 'purge = true' },
        { TF_VAR_purge: 'false' },
      ),
    ).toBe('pass');
    expect(
      await kv01(decl + kvWith('var.purge'), {
        'terraform.tfvars': 'purge = true',
        'z.auto.tfvars': 'purge = false',
      }),
    ).toBe('fail');
  });
  it('--var-file files come last, in order', async () => {
    const r = await scanText(
      decl + kvWith('var.purge'),
      { 'a.auto.tfvars': 'purge = false' },
      {
        varFiles: [
          { path: 'one.tfvars', text: 'purge = false' },
          { path: 'two.tfvars', text: 'purge = true' },
        ],
      },
    );
    expect(findingOf(r, 'KV-01', KV).status).toBe('pass');
  });
  it('a tfvars file that is neither terraform.tfvars nor *.auto.tfvars is not loaded', async () => {
    expect(await kv01(decl + kvWith('var.purge'), { 'prod.tfvars': 'purge = true' })).toBe('fail');
  });
  it('a variable with no value gives UNKNOWN, never PASS', async () => {
    const f = findingOf(await scanText(`variable "purge" {}\n${kvWith('var.purge')}`), 'KV-01', KV);
    expect(f.status).toBe('unknown');
    expect(f.message).toMatch(/var\.purge has no value/);
  });
});

describe('expressions', () => {
  it.each([
    ['local.on', 'locals {\n  on = true\n}\n', 'pass'],
    ['var.env == "prod" ? true : false', 'variable "env" { default = "prod" }\n', 'pass'],
    ['!var.off', 'variable "off" { default = true }\n', 'fail'],
    ['tobool(lower("TRUE"))', '', 'pass'],
    ['lookup(local.m, "kv", false)', 'locals {\n  m = { kv = true }\n}\n', 'pass'],
    ['length(var.l) > 1', 'variable "l" { default = ["a", "b"] }\n', 'pass'],
    ['local.a', 'locals {\n  a = local.b\n  b = local.a\n}\n', 'unknown'],
    ['data.azurerm_client_config.c.object_id == "x"', '', 'unknown'],
    ['[for x in var.l : x][0]', 'variable "l" { default = [true] }\n', 'unknown'],
    ['can(var.x)', 'variable "x" { default = 1 }\n', 'unknown'],
  ])('%s', async (expr, prelude, status) => {
    expect(await kv01(prelude + kvWith(expr))).toBe(status);
  });
  it('string templates join known parts and keep references for relations', async () => {
    const r = await scanText(
      `locals {\n  name = "kv-\${var.env}"\n}\nvariable "env" { default = "dev" }\n${kvWith('local.name == "kv-dev"')}`,
    );
    expect(findingOf(r, 'KV-01', KV).status).toBe('pass');
  });
  it('a reference to a count instance points at the resource', async () => {
    const r = await scanText(
      `${kvWith('true').replace('"kv" {', '"kv" {\n  count = 1')}resource "azurerm_private_endpoint" "p" {\n  private_service_connection {\n    private_connection_resource_id = azurerm_key_vault.kv[0].id\n    subresource_names = ["vault"]\n  }\n}\n`,
    );
    expect(findingOf(r, 'KV-05', KV).status).toBe('pass');
  });
  it('a resource with count = 0 is not scanned', async () => {
    const r = await scanText('resource "azurerm_key_vault" "kv" {\n  count = 0\n}\n');
    expect(r.findings.filter((f) => f.resource === KV)).toEqual([]);
  });
});

describe('local modules', () => {
  const root = `
module "vault" {
  source = "./modules/vault"
  purge  = true
}
resource "azurerm_private_endpoint" "pe" {
  private_service_connection {
    private_connection_resource_id = module.vault.id
    subresource_names              = ["vault"]
  }
}
`;
  const mod = `
variable "purge" { type = bool }
resource "azurerm_key_vault" "kv" {
  name                     = "kv"
  purge_protection_enabled = var.purge
}
output "id" { value = azurerm_key_vault.kv.id }
`;
  it('are followed with their inputs, and their outputs resolve in the caller', async () => {
    const r = await scanText(root, { 'modules/vault/main.tf': mod });
    expect(findingOf(r, 'KV-01', `module.vault.${KV}`).status).toBe('pass');
    expect(findingOf(r, 'KV-05', `module.vault.${KV}`).status).toBe('pass');
    expect(r.findings.some((f) => f.resource === KV)).toBe(false);
    expect(findingOf(r, 'KV-01', `module.vault.${KV}`).file).toBe('modules/vault/main.tf');
  });
  it('a remote module is noted, not followed', async () => {
    const r = await scanText('module "x" {\n  source = "Azure/avm-res-keyvault-vault/azurerm"\n}\n');
    expect(r.notes.join('\n')).toMatch(/module\.x.*not a local module/);
  });
});

describe('positions, suppressions and the baseline', () => {
  const text = `# sealtrain:ignore KV-04 reached through the hub firewall only
resource "azurerm_key_vault" "kv" {
  name = "kv"
  # sealtrain:ignore KV-09
  network_acls {
    default_action = "Allow"
  }
}
`;
  it('points a finding at the attribute, else at the block header', async () => {
    const r = await scanText(text);
    expect(findingOf(r, 'KV-03', KV).line).toBe(5);
    expect(findingOf(r, 'KV-01', KV).line).toBe(2);
  });
  it('a suppression needs a reason; without one it suppresses nothing and is reported', async () => {
    const r = await scanText(text);
    expect(findingOf(r, 'KV-04', KV).suppressed).toBe('reached through the hub firewall only');
    expect(findingOf(r, 'KV-09', KV).suppressed).toBeUndefined();
    expect(r.badSuppressions).toEqual([{ file: 'main.tf', line: 4, ids: ['KV-09'] }]);
  });
  it('a suppression matches rule IDs whatever their case (VM-03b)', async () => {
    const r = await scanText(
      'resource "azurerm_managed_disk" "d" {\n  # sealtrain:ignore vm-03b data disk restored from a snapshot\n  create_option = "FromImage"\n}\n',
    );
    expect(findingOf(r, 'VM-03b', 'azurerm_managed_disk.d').suppressed).toBe(
      'data disk restored from a snapshot',
    );
  });
  it('a baseline accepts the findings it lists', async () => {
    const baseline = parseBaseline(
      JSON.stringify({ version: 1, findings: [{ rule: 'KV-01', resource: KV, file: 'main.tf' }] }),
      'b.json',
    );
    const r = await scanText(text, {}, { baseline });
    expect(findingOf(r, 'KV-01', KV).baselined).toBe(true);
    expect(findingOf(r, 'KV-06', KV).baselined).toBeUndefined();
  });
  it.each([
    ['not JSON', '{'],
    ['a wrong version', '{"version": 2, "findings": []}'],
    ['an entry without a resource', '{"version": 1, "findings": [{"rule": "KV-01", "file": "main.tf"}]}'],
  ])('a baseline with %s is ERR_IAC_BASELINE_INVALID', async (_, json) => {
    await rejectsWith(
      Promise.resolve().then(() => parseBaseline(json, 'b.json')),
      'ERR_IAC_BASELINE_INVALID',
    );
  });
  it('reads .tf.json with the line of each resource', async () => {
    const json = JSON.stringify(
      {
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a Terraform interpolation, not a JS one
        resource: { azurerm_key_vault: { kv: { name: 'kv', purge_protection_enabled: '${var.p}' } } },
        variable: { p: { default: true } },
      },
      null,
      2,
    );
    const r = await scanSources([{ path: 'main.tf.json', text: json }]);
    const f = findingOf(r, 'KV-01', KV);
    expect([f.status, f.line]).toEqual(['pass', 4]);
  });
});

describe('malformed files', () => {
  it('give a problem with file, line and column, and the other files are still scanned', async () => {
    const r = await scanSources([
      { path: 'bad.tf', text: 'resource "azurerm_key_vault" "kv" {\n  name = \n}\n' },
      { path: 'broken.tf.json', text: '{\n  "resource": \n' },
      { path: 'good.tf', text: kvWith('true') },
    ]);
    expect(r.problems.map((p) => [p.file, p.line])).toEqual([
      ['bad.tf', 2],
      ['broken.tf.json', 2],
    ]);
    expect(r.problems[0]?.message).toMatch(/expression/i);
    expect(findingOf(r, 'KV-01', KV).file).toBe('good.tf');
  });
});
