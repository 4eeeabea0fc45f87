data "azurerm_client_config" "current" {}

locals {
  name = var.name_prefix
  # Storage account and Key Vault names are global and short; the suffix keeps them unique.
  suffix = substr(sha256("${data.azurerm_client_config.current.subscription_id}/${var.name_prefix}"), 0, 6)
}

resource "azurerm_resource_group" "main" {
  name     = "rg-${local.name}-training"
  location = var.location
  tags     = var.tags
}

# One user-assigned identity for the VM and the workspace, one for the encryption of disks and
# storage: granted before the resources that use them exist.
resource "azurerm_user_assigned_identity" "workload" {
  name                = "id-${local.name}-workload"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  tags                = var.tags
}

resource "azurerm_user_assigned_identity" "encryption" {
  name                = "id-${local.name}-encryption"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  tags                = var.tags
}

resource "azurerm_log_analytics_workspace" "main" {
  name                = "log-${local.name}"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  sku                 = "PerGB2018"
  retention_in_days   = var.log_retention_days
  tags                = var.tags
}
