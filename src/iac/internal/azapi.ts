import { type Block, ValueBlock } from './block.js';
import { index } from './expr.js';
import { asString, isObjectValue, isUnknown, type ObjectValue, Unknown, type Value } from './values.js';

/** Reads a nested ARM property (`properties.encryption.status`); undefined when absent. */
function at(v: Value | undefined, path: string): Value | undefined {
  let cur: Value | undefined = v;
  for (const k of path.split('.')) {
    if (cur === undefined || cur === null) return undefined;
    if (isUnknown(cur)) return cur;
    if (!isObjectValue(cur) || !Object.hasOwn(cur, k)) return isObjectValue(cur) ? undefined : index(cur, k);
    cur = cur[k];
  }
  return cur;
}

/** `"Enabled"`/`"Disabled"` → true/false. */
function enabled(v: Value | undefined): Value | undefined {
  if (v === undefined || isUnknown(v)) return v;
  const s = asString(v);
  if (typeof s !== 'string') return s;
  return s.toLowerCase() === 'enabled'
    ? true
    : s.toLowerCase() === 'disabled'
      ? false
      : new Unknown(`"${s}"`);
}

const not = (v: Value | undefined): Value | undefined => (typeof v === 'boolean' ? !v : v);

/** An object without the keys whose value is undefined. */
function defined(o: Record<string, Value | undefined>): ObjectValue {
  const out: ObjectValue = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}

const list = (v: ObjectValue | undefined): Value[] | undefined => (v ? [v] : undefined);

type Mapper = (body: Value, azapi: Block) => { type: string; value: ObjectValue } | undefined;

function identityOf(body: Value, azapi: Block): Value[] | undefined {
  const block = azapi.blocks('identity')[0];
  const type = block?.get('type') ?? at(body, 'identity.type');
  return type === undefined ? undefined : [defined({ type })];
}

const workspace: Mapper = (body, azapi) => {
  const p = at(body, 'properties');
  const encryption = at(p, 'encryption.status');
  const isolation = at(p, 'managedNetwork.isolationMode');
  const serverless = at(p, 'serverlessComputeSettings');
  const value = defined({
    public_network_access_enabled: enabled(at(p, 'publicNetworkAccess')),
    high_business_impact: at(p, 'hbiWorkspace'),
    encryption:
      encryption === undefined || enabled(encryption) === false
        ? undefined
        : isUnknown(encryption)
          ? encryption
          : [defined({ key_vault_id: at(p, 'encryption.keyVaultProperties.keyVaultArmId') })],
    identity: identityOf(body, azapi),
    primary_user_assigned_identity: at(p, 'primaryUserAssignedIdentity'),
    managed_network: isolation === undefined ? undefined : [{ isolation_mode: isolation }],
    key_vault_id: at(p, 'keyVault'),
    storage_account_id: at(p, 'storageAccount'),
    container_registry_id: at(p, 'containerRegistry'),
    serverless_compute: list(
      serverless === undefined
        ? undefined
        : defined({
            subnet_id: at(serverless, 'serverlessComputeCustomSubnet'),
            public_ip_enabled: not(at(serverless, 'serverlessComputeNoPublicIP')),
          }),
    ),
  });
  return { type: 'azurerm_machine_learning_workspace', value };
};

const compute: Mapper = (body, azapi) => {
  const p = at(body, 'properties');
  const kind = asString(at(p, 'computeType'));
  const pp = at(p, 'properties');
  const common = {
    local_auth_enabled: not(at(p, 'disableLocalAuth')),
    subnet_resource_id: at(pp, 'subnet.id'),
    node_public_ip_enabled: at(pp, 'enableNodePublicIp'),
    identity: identityOf(body, azapi),
  };
  if (kind === 'ComputeInstance') {
    const ssh = at(pp, 'sshSettings.sshPublicAccess');
    return {
      type: 'azurerm_machine_learning_compute_instance',
      value: defined({
        ...common,
        ssh:
          ssh === undefined || enabled(ssh) === false
            ? undefined
            : [defined({ public_access: enabled(ssh) })],
        idle_time_before_shutdown: at(pp, 'idleTimeBeforeShutdown'),
        authorization_type: at(pp, 'computeInstanceAuthorizationType'),
        assign_to_user: at(pp, 'personalComputeInstanceSettings.assignedUser'),
      }),
    };
  }
  if (kind === 'AmlCompute') {
    const password = at(pp, 'userAccountCredentials.adminUserPassword');
    return {
      type: 'azurerm_machine_learning_compute_cluster',
      value: defined({
        ...common,
        ssh_public_access_enabled: enabled(at(pp, 'remoteLoginPortPublicAccess')),
        ssh: password === undefined ? undefined : [{ admin_password: password }],
        scale_settings: list(defined({ min_node_count: at(pp, 'scaleSettings.minNodeCount') })),
      }),
    };
  }
  return undefined;
};

const vault: Mapper = (body) => {
  const p = at(body, 'properties');
  const acls = at(p, 'networkAcls');
  return {
    type: 'azurerm_key_vault',
    value: defined({
      purge_protection_enabled: at(p, 'enablePurgeProtection'),
      soft_delete_enabled: at(p, 'enableSoftDelete'),
      public_network_access_enabled: enabled(at(p, 'publicNetworkAccess')),
      network_acls: list(
        acls === undefined
          ? undefined
          : defined({ default_action: at(acls, 'defaultAction'), bypass: at(acls, 'bypass') }),
      ),
      rbac_authorization_enabled: at(p, 'enableRbacAuthorization'),
      sku_name: at(p, 'sku.name'),
    }),
  };
};

const key: Mapper = (body) => {
  const p = at(body, 'properties');
  const rotation = at(p, 'rotationPolicy');
  return {
    type: 'azurerm_key_vault_key',
    value: defined({
      key_type: at(p, 'kty'),
      expiration_date: at(p, 'attributes.exp'),
      rotation_policy: rotation === undefined ? undefined : [{}],
      exportable: at(p, 'attributes.exportable'),
      release_policy: at(p, 'release_policy'),
    }),
  };
};

function bypassList(v: Value | undefined): Value | undefined {
  const s = asString(v);
  return typeof s === 'string' ? s.split(',').map((x) => x.trim()) : v;
}

const storage: Mapper = (body) => {
  const p = at(body, 'properties');
  const acls = at(p, 'networkAcls');
  const keySource = asString(at(p, 'encryption.keySource'));
  return {
    type: 'azurerm_storage_account',
    value: defined({
      https_traffic_only_enabled: at(p, 'supportsHttpsTrafficOnly'),
      min_tls_version: at(p, 'minimumTlsVersion'),
      allow_nested_items_to_be_public: at(p, 'allowBlobPublicAccess'),
      public_network_access_enabled: enabled(at(p, 'publicNetworkAccess')),
      network_rules: list(
        acls === undefined
          ? undefined
          : defined({ default_action: at(acls, 'defaultAction'), bypass: bypassList(at(acls, 'bypass')) }),
      ),
      shared_access_key_enabled: at(p, 'allowSharedKeyAccess'),
      customer_managed_key:
        typeof keySource === 'string'
          ? keySource.toLowerCase() === 'microsoft.keyvault'
            ? [{}]
            : undefined
          : keySource,
      infrastructure_encryption_enabled: at(p, 'encryption.requireInfrastructureEncryption'),
    }),
  };
};

const registry: Mapper = (body) => {
  const p = at(body, 'properties');
  const encryption = at(p, 'encryption.status');
  return {
    type: 'azurerm_container_registry',
    value: defined({
      admin_enabled: at(p, 'adminUserEnabled'),
      public_network_access_enabled: enabled(at(p, 'publicNetworkAccess')),
      anonymous_pull_enabled: at(p, 'anonymousPullEnabled'),
      encryption: encryption === undefined || enabled(encryption) === false ? undefined : [{}],
      sku: at(body, 'sku.name'),
    }),
  };
};

/** The ARM types whose azapi bodies go through the azurerm rules. */
const MAPPERS: Record<string, Mapper> = {
  'microsoft.machinelearningservices/workspaces': workspace,
  'microsoft.machinelearningservices/workspaces/computes': compute,
  'microsoft.keyvault/vaults': vault,
  'microsoft.keyvault/vaults/keys': key,
  'microsoft.storage/storageaccounts': storage,
  'microsoft.containerregistry/registries': registry,
};

/** The ARM type of an azapi resource, without its API version, lower-case. */
export function armType(azapi: Block): string | Unknown | undefined {
  const t = asString(azapi.get('type'));
  return typeof t === 'string' ? (t.split('@')[0] ?? '').toLowerCase() : t;
}

/**
 * Maps an `azapi_resource` body to the azurerm resource the rules know, with azurerm attribute
 * names; undefined for ARM types the rules do not cover.
 */
export function mapAzapi(azapi: Block): { type: string; block: Block } | undefined {
  const t = armType(azapi);
  if (typeof t !== 'string') return undefined;
  const mapper = MAPPERS[t];
  if (!mapper) return undefined;
  const body = azapi.get('body') ?? {};
  const mapped = mapper(typeof body === 'string' ? safeJson(body) : body, azapi);
  return mapped && { type: mapped.type, block: new ValueBlock(mapped.value) };
}

function safeJson(text: string): Value {
  try {
    return JSON.parse(text) as Value;
  } catch {
    return new Unknown('an azapi body that is not JSON');
  }
}
