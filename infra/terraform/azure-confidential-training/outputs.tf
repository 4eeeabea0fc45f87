output "resource_group_name" {
  description = "The resource group that holds everything."
  value       = azurerm_resource_group.main.name
}

output "vm_id" {
  description = "The confidential VM."
  value       = azurerm_linux_virtual_machine.cvm.id
}

output "vm_private_ip" {
  description = "The VM's private address (it has no public one)."
  value       = azurerm_network_interface.vm.private_ip_address
}

output "workload_identity_client_id" {
  description = "Client ID of the VM's managed identity (for key release and blob access)."
  value       = azurerm_user_assigned_identity.workload.client_id
}

output "key_vault_uri" {
  description = "The Key Vault, reachable through its private endpoint only."
  value       = azurerm_key_vault.main.vault_uri
}

output "training_key_id" {
  description = "The exportable training key (secure key release); use it as azurekv://<vault>/keys/training-key."
  value       = azapi_resource.training_key.output.properties.keyUri
}

output "storage_account_name" {
  description = "The storage account for sealed datasets and models (container: sealed)."
  value       = azurerm_storage_account.main.name
}

output "ml_workspace_id" {
  description = "The Azure ML workspace, when enable_ml_workspace is true."
  value       = var.enable_ml_workspace ? azapi_resource.workspace[0].id : null
}
