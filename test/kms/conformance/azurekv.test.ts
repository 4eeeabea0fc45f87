// The conformance suite for the azurekv: provider against sealtrain's broker over TLS.
import { AZUREKV_WRAP_ALG, AzureKeyVaultProvider } from '../../../src/kms/index.js';
import { brokerWithPrincipals, clientOptions, StaticToken, tempDir } from '../../broker/helpers.js';
import { describeKeyProviderConformance } from './key-provider-conformance.js';

describeKeyProviderConformance(
  'azurekv:',
  async () => {
    const t = await tempDir();
    const { broker, owner } = await brokerWithPrincipals(t.dir);
    const provider = new AzureKeyVaultProvider({
      vaultUrl: broker.url,
      credential: new StaticToken(owner),
      clientOptions: clientOptions(broker),
      keySize: 2048,
    });
    const host = new URL(broker.url).host;
    return {
      provider,
      uriOf: (name) => `azurekv://${host}/keys/${name}`,
      cleanup: async () => {
        await broker.close();
        await t.cleanup();
      },
    };
  },
  { alg: AZUREKV_WRAP_ALG },
);
