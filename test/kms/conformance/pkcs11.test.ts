// The conformance suite for the pkcs11: provider on a SoftHSM2 token the test initialises in a
// temp folder (SOFTHSM2_CONF points at a config there).
import { PKCS11_WRAP_ALG, Pkcs11KeyProvider } from '../../../src/kms/index.js';
import { describeKeyProviderConformance } from './key-provider-conformance.js';
import { initSoftHsmToken, SOFTHSM_MODULE } from './softhsm.js';

describeKeyProviderConformance(
  'pkcs11:',
  async () => {
    const token = await initSoftHsmToken('conformance');
    const provider = await Pkcs11KeyProvider.open({
      module: SOFTHSM_MODULE,
      tokenLabel: token.label,
      pin: token.pin(),
    });
    return {
      provider,
      uriOf: (name) => `pkcs11:token=${token.label};object=${name}`,
      cleanup: async () => {
        await provider.close();
        await token.cleanup();
      },
    };
  },
  {
    alg: PKCS11_WRAP_ALG,
    versionedUriOf: (name, version) => `pkcs11:token=conformance;object=${name}%23${version}`,
  },
);
