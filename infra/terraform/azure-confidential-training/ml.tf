# Optional hardened Azure Machine Learning workspace (enable_ml_workspace = true), built with
# azapi because azurerm cannot set identity-based datastores (systemDatastoresAuthMode), which
# a storage account without shared keys needs: private (no public network access, private
# endpoint), high business impact, customer-managed key, user-assigned primary identity,
# managed network that allows only approved outbound traffic, diagnostic logs.
resource "azurerm_application_insights" "ml" {
  count               = var.enable_ml_workspace ? 1 : 0
  name                = "appi-${local.name}"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  workspace_id        = azurerm_log_analytics_workspace.main.id
  application_type    = "other"
  tags                = var.tags
}

resource "azapi_resource" "workspace" {
  count     = var.enable_ml_workspace ? 1 : 0
  type      = "Microsoft.MachineLearningServices/workspaces@2024-10-01"
  name      = "mlw-${local.name}"
  parent_id = azurerm_resource_group.main.id
  location  = azurerm_resource_group.main.location
  tags      = var.tags

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.workload.id, azurerm_user_assigned_identity.encryption.id]
  }

  body = {
    kind = "Default"
    sku  = { name = "Basic", tier = "Basic" }
    properties = {
      friendlyName                = "sealtrain confidential training"
      publicNetworkAccess         = "Disabled"
      hbiWorkspace                = true
      systemDatastoresAuthMode    = "identity"
      primaryUserAssignedIdentity = azurerm_user_assigned_identity.workload.id
      keyVault                    = azurerm_key_vault.main.id
      storageAccount              = azurerm_storage_account.main.id
      applicationInsights         = azurerm_application_insights.ml[0].id
      managedNetwork = {
        isolationMode = "AllowOnlyApprovedOutbound"
      }
      encryption = {
        status   = "Enabled"
        identity = { userAssignedIdentity = azurerm_user_assigned_identity.encryption.id }
        keyVaultProperties = {
          keyVaultArmId = azurerm_key_vault.main.id
          keyIdentifier = azapi_resource.storage_key.output.properties.keyUriWithVersion
        }
      }
    }
  }
}

resource "azurerm_private_dns_zone" "ml" {
  for_each            = var.enable_ml_workspace ? toset(["privatelink.api.azureml.ms", "privatelink.notebooks.azure.net"]) : toset([])
  name                = each.key
  resource_group_name = azurerm_resource_group.main.name
  tags                = var.tags
}

resource "azurerm_private_dns_zone_virtual_network_link" "ml" {
  for_each              = azurerm_private_dns_zone.ml
  name                  = "link-${replace(each.key, ".", "-")}"
  resource_group_name   = azurerm_resource_group.main.name
  private_dns_zone_name = each.value.name
  virtual_network_id    = azurerm_virtual_network.main.id
}

resource "azurerm_private_endpoint" "workspace" {
  count               = var.enable_ml_workspace ? 1 : 0
  name                = "pe-${local.name}-mlw"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  subnet_id           = azurerm_subnet.endpoints.id
  tags                = var.tags

  private_service_connection {
    name                           = "amlworkspace"
    private_connection_resource_id = azapi_resource.workspace[0].id
    subresource_names              = ["amlworkspace"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "amlworkspace"
    private_dns_zone_ids = [for z in azurerm_private_dns_zone.ml : z.id]
  }
}

resource "azurerm_monitor_diagnostic_setting" "workspace" {
  count                      = var.enable_ml_workspace ? 1 : 0
  name                       = "diag-mlw"
  target_resource_id         = azapi_resource.workspace[0].id
  log_analytics_workspace_id = azurerm_log_analytics_workspace.main.id

  enabled_log {
    category_group = "allLogs"
  }
}
