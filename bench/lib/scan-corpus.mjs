// A seeded corpus of Terraform files for bench/scan.mjs: FILES files in folders of 20, each with
// a variable, locals and six resources (storage account, Key Vault, NSG with rules, subnet and
// association, private endpoint, diagnostic setting) that reference each other, so the scan
// resolves variables, locals and relations as on real code.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function file(i) {
  const n = `r${i}`;
  const open = i % 3 === 0 ? '0.0.0.0/0' : '10.0.0.0/8';
  return `variable "public_${n}" {
  type    = bool
  default = ${i % 2 === 0}
}

locals {
  tls_${n} = "TLS1_${i % 4 === 0 ? 0 : 2}"
}

resource "azurerm_storage_account" "${n}" {
  name                            = "st${n}"
  location                        = "westeurope"
  resource_group_name             = "rg"
  account_tier                    = "Standard"
  account_replication_type        = "ZRS"
  min_tls_version                 = local.tls_${n}
  public_network_access_enabled   = var.public_${n}
  allow_nested_items_to_be_public = false
  shared_access_key_enabled       = false

  network_rules {
    default_action = "Deny"
    bypass         = ["AzureServices"]
  }
}

resource "azurerm_key_vault" "${n}" {
  name                     = "kv${n}"
  location                 = "westeurope"
  resource_group_name      = "rg"
  tenant_id                = "00000000-0000-0000-0000-000000000000"
  sku_name                 = "premium"
  purge_protection_enabled = ${i % 5 !== 0}
}

resource "azurerm_network_security_group" "${n}" {
  name                = "nsg${n}"
  location            = "westeurope"
  resource_group_name = "rg"

  security_rule {
    name                       = "ssh"
    priority                   = 100
    direction                  = "Inbound"
    access                     = "Allow"
    protocol                   = "Tcp"
    source_port_range          = "*"
    destination_port_range     = "22"
    source_address_prefix      = "${open}"
    destination_address_prefix = "*"
  }
}

resource "azurerm_subnet" "${n}" {
  name                 = "snet${n}"
  resource_group_name  = "rg"
  virtual_network_name = "vnet"
  address_prefixes     = ["10.${i % 250}.0.0/24"]
}

resource "azurerm_subnet_network_security_group_association" "${n}" {
  subnet_id                 = azurerm_subnet.${n}.id
  network_security_group_id = azurerm_network_security_group.${n}.id
}

resource "azurerm_private_endpoint" "${n}" {
  name                = "pe${n}"
  location            = "westeurope"
  resource_group_name = "rg"
  subnet_id           = azurerm_subnet.${n}.id

  private_service_connection {
    name                           = "blob"
    private_connection_resource_id = azurerm_storage_account.${n}.id
    subresource_names              = ["blob"]
    is_manual_connection           = false
  }
}

resource "azurerm_monitor_diagnostic_setting" "${n}" {
  name               = "diag${n}"
  target_resource_id = azurerm_key_vault.${n}.id
}
`;
}

/** Writes the corpus under `dir` and returns the file paths. */
export function writeCorpus(dir, files) {
  const paths = [];
  for (let i = 0; i < files; i++) {
    const sub = join(dir, `stack-${String(Math.floor(i / 20)).padStart(3, '0')}`);
    if (i % 20 === 0) mkdirSync(sub, { recursive: true });
    const path = join(sub, `main-${i}.tf`);
    writeFileSync(path, file(i));
    paths.push(path);
  }
  return paths;
}
