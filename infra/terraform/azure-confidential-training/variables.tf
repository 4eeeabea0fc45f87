variable "name_prefix" {
  description = "Short prefix for every resource name (lower-case letters and digits, 3-10 characters)."
  type        = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9]{2,9}$", var.name_prefix))
    error_message = "name_prefix must be 3-10 lower-case letters and digits, starting with a letter."
  }
}

variable "location" {
  description = "Azure region with confidential VM capacity (DCasv5/ECasv5), e.g. westeurope or eastus."
  type        = string
}

variable "address_space" {
  description = "Address space of the virtual network."
  type        = string
  default     = "10.42.0.0/16"
}

variable "vm_size" {
  description = "Confidential VM size: AMD SEV-SNP DCasv5/DCadsv5/ECasv5/ECadsv5."
  type        = string
  default     = "Standard_DC4as_v5"
  validation {
    condition     = can(regex("^Standard_(DC|EC)[0-9]+a(d)?s_v5$", var.vm_size))
    error_message = "vm_size must be an AMD SEV-SNP confidential size (DCasv5, DCadsv5, ECasv5 or ECadsv5)."
  }
}

variable "admin_username" {
  description = "Administrator of the VM (SSH keys only; there is no password)."
  type        = string
  default     = "sealtrain"
}

variable "admin_ssh_public_key" {
  description = "OpenSSH public key of the administrator. The VM has no public IP: connect through Azure Bastion or a peered network."
  type        = string
}

variable "confidential_vm_orchestrator_object_id" {
  description = "Object ID of the 'Confidential VM Orchestrator' service principal in your tenant (app ID bf7b6499-ff71-4aa2-97a4-f372087be7f0); it releases the OS-disk key to the VM."
  type        = string
}

variable "attestation_authority" {
  description = "Microsoft Azure Attestation endpoint whose tokens the release policies trust, e.g. https://sharedweu.weu.attest.azure.net."
  type        = string
}

variable "key_expires_at_unix" {
  description = "Expiry of the keys, in seconds since 1970 (the rotation policy renews them before)."
  type        = number
  default     = 1924992000
}

variable "log_retention_days" {
  description = "Days Log Analytics and flow logs keep records (at least 90)."
  type        = number
  default     = 90
  validation {
    condition     = var.log_retention_days >= 90
    error_message = "Keep logs for at least 90 days."
  }
}

variable "enable_ml_workspace" {
  description = "Also deploy a hardened Azure Machine Learning workspace (private, HBI, customer-managed key, managed network)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
