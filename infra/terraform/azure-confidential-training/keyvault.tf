# Key Vault Premium (HSM-backed keys), purge protection, RBAC, no public network access, reached
# through a private endpoint. Keys are created through ARM (azapi), which also works while the
# data plane is closed to the deploying machine.
resource "azurerm_key_vault" "main" {
  name                          = "kv-${local.name}-${local.suffix}"
  location                      = azurerm_resource_group.main.location
  resource_group_name           = azurerm_resource_group.main.name
  tenant_id                     = data.azurerm_client_config.current.tenant_id
  sku_name                      = "premium"
  purge_protection_enabled      = true
  soft_delete_retention_days    = 90
  rbac_authorization_enabled    = true
  public_network_access_enabled = false
  tags                          = var.tags

  network_acls {
    default_action = "Deny"
    bypass         = "AzureServices"
  }
}

resource "azurerm_private_endpoint" "vault" {
  name                = "pe-${local.name}-vault"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  subnet_id           = azurerm_subnet.endpoints.id
  tags                = var.tags

  private_service_connection {
    name                           = "vault"
    private_connection_resource_id = azurerm_key_vault.main.id
    subresource_names              = ["vault"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "vault"
    private_dns_zone_ids = [azurerm_private_dns_zone.zone["vault"].id]
  }
}

locals {
  # Rotate 30 days before expiry; keys live one year.
  rotation_policy = {
    attributes = { expiryTime = "P1Y" }
    lifetimeActions = [
      { action = { type = "rotate" }, trigger = { timeBeforeExpiry = "P30D" } },
      { action = { type = "notify" }, trigger = { timeBeforeExpiry = "P60D" } },
    ]
  }

  # The training key: released only to a debug-off AMD SEV-SNP confidential VM whose token comes
  # from the attestation authority (Azure Key Vault secure key release policy grammar).
  training_release_policy = {
    version = "1.0.0"
    anyOf = [{
      authority = var.attestation_authority
      allOf = [
        { claim = "x-ms-isolation-tee.x-ms-attestation-type", equals = "sevsnpvm" },
        { claim = "x-ms-isolation-tee.x-ms-compliance-status", equals = "azure-compliant-cvm" },
        { claim = "x-ms-isolation-tee.x-ms-sevsnpvm-is-debuggable", equals = false },
      ]
    }]
  }

  # The OS-disk key of a confidential VM: the platform's own release policy for CVMs.
  disk_release_policy = {
    version = "1.0.0"
    anyOf = [{
      authority = var.attestation_authority
      allOf = [
        { claim = "x-ms-isolation-tee.x-ms-attestation-type", equals = "sevsnpvm" },
        { claim = "x-ms-isolation-tee.x-ms-compliance-status", equals = "azure-compliant-cvm" },
      ]
    }]
  }
}

# The exportable training key with its release policy: azurerm cannot express release policies,
# so it is created through ARM with azapi.
resource "azapi_resource" "training_key" {
  type      = "Microsoft.KeyVault/vaults/keys@2023-07-01"
  name      = "training-key"
  parent_id = azurerm_key_vault.main.id
  body = {
    properties = {
      kty     = "RSA-HSM"
      keySize = 3072
      keyOps  = ["wrapKey", "unwrapKey", "encrypt", "decrypt"]
      attributes = {
        enabled    = true
        exportable = true
        exp        = var.key_expires_at_unix
      }
      release_policy = {
        contentType = "application/json; charset=utf-8"
        data        = base64encode(jsonencode(local.training_release_policy))
      }
      rotationPolicy = local.rotation_policy
    }
  }
  response_export_values = ["properties.keyUri", "properties.keyUriWithVersion"]
}

resource "azapi_resource" "disk_key" {
  type      = "Microsoft.KeyVault/vaults/keys@2023-07-01"
  name      = "cvm-os-disk-key"
  parent_id = azurerm_key_vault.main.id
  body = {
    properties = {
      kty     = "RSA-HSM"
      keySize = 3072
      keyOps  = ["wrapKey", "unwrapKey"]
      attributes = {
        enabled    = true
        exportable = true
        exp        = var.key_expires_at_unix
      }
      release_policy = {
        contentType = "application/json; charset=utf-8"
        data        = base64encode(jsonencode(local.disk_release_policy))
      }
      rotationPolicy = local.rotation_policy
    }
  }
  response_export_values = ["properties.keyUri", "properties.keyUriWithVersion"]
}

# The customer-managed key of the storage account (and of the workspace when enabled).
resource "azapi_resource" "storage_key" {
  type      = "Microsoft.KeyVault/vaults/keys@2023-07-01"
  name      = "storage-cmk"
  parent_id = azurerm_key_vault.main.id
  body = {
    properties = {
      kty     = "RSA-HSM"
      keySize = 3072
      keyOps  = ["wrapKey", "unwrapKey"]
      attributes = {
        enabled = true
        exp     = var.key_expires_at_unix
      }
      rotationPolicy = local.rotation_policy
    }
  }
  response_export_values = ["properties.keyUri", "properties.keyUriWithVersion"]
}

# RBAC: the workload identity may release the training key (secure key release checks the
# attestation token against the policy); the encryption identity wraps and unwraps the
# storage and disk keys; the Confidential VM Orchestrator releases the OS-disk key to the VM.
resource "azurerm_role_assignment" "workload_release" {
  scope                = "${azurerm_key_vault.main.id}/keys/training-key"
  role_definition_name = "Key Vault Crypto Service Release User"
  principal_id         = azurerm_user_assigned_identity.workload.principal_id
  depends_on           = [azapi_resource.training_key]
}

resource "azurerm_role_assignment" "encryption_user" {
  scope                = azurerm_key_vault.main.id
  role_definition_name = "Key Vault Crypto Service Encryption User"
  principal_id         = azurerm_user_assigned_identity.encryption.principal_id
}

resource "azurerm_role_assignment" "cvm_orchestrator_release" {
  scope                = "${azurerm_key_vault.main.id}/keys/cvm-os-disk-key"
  role_definition_name = "Key Vault Crypto Service Release User"
  principal_id         = var.confidential_vm_orchestrator_object_id
  depends_on           = [azapi_resource.disk_key]
}
