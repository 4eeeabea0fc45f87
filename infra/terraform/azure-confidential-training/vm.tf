# The confidential VM: AMD SEV-SNP (DCasv5/ECasv5), secure boot, vTPM, confidential OS-disk
# encryption bound to the VM state with a customer-managed key, no public IP, managed identity.
# Encryption at host is not set: the provider forbids it with DiskWithVMGuestState.
resource "azurerm_disk_encryption_set" "cvm" {
  name                = "des-${local.name}-cvm"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  encryption_type     = "ConfidentialVmEncryptedWithCustomerKey"
  key_vault_key_id    = azapi_resource.disk_key.output.properties.keyUriWithVersion
  tags                = var.tags

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.encryption.id]
  }

  depends_on = [azurerm_role_assignment.encryption_user, azurerm_role_assignment.cvm_orchestrator_release]
}

resource "azurerm_network_interface" "vm" {
  name                = "nic-${local.name}-vm"
  location            = azurerm_resource_group.main.location
  resource_group_name = azurerm_resource_group.main.name
  tags                = var.tags

  ip_configuration {
    name                          = "internal"
    subnet_id                     = azurerm_subnet.compute.id
    private_ip_address_allocation = "Dynamic"
  }
}

resource "azurerm_linux_virtual_machine" "cvm" {
  name                            = "vm-${local.name}-cvm"
  location                        = azurerm_resource_group.main.location
  resource_group_name             = azurerm_resource_group.main.name
  size                            = var.vm_size
  admin_username                  = var.admin_username
  disable_password_authentication = true
  network_interface_ids           = [azurerm_network_interface.vm.id]
  secure_boot_enabled             = true
  vtpm_enabled                    = true
  tags                            = var.tags

  admin_ssh_key {
    username   = var.admin_username
    public_key = var.admin_ssh_public_key
  }

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.workload.id]
  }

  os_disk {
    caching                          = "ReadWrite"
    storage_account_type             = "Premium_LRS"
    security_encryption_type         = "DiskWithVMGuestState"
    secure_vm_disk_encryption_set_id = azurerm_disk_encryption_set.cvm.id
  }

  # Ubuntu 24.04 LTS built for confidential VMs.
  source_image_reference {
    publisher = "Canonical"
    offer     = "ubuntu-24_04-lts"
    sku       = "cvm"
    version   = "latest"
  }

  boot_diagnostics {}
}
