// The conformance suite for the local: provider, a keyring in a temp folder with a small scrypt cost.
import { LOCAL_WRAP_ALG } from '../../../src/kms/index.js';
import { newRing, tempDir } from '../helpers.js';
import { describeKeyProviderConformance } from './key-provider-conformance.js';

describeKeyProviderConformance(
  'local:',
  async () => {
    const t = await tempDir();
    const provider = await newRing(t.dir);
    return { provider, uriOf: (name) => `local:${name}`, cleanup: t.cleanup };
  },
  { alg: LOCAL_WRAP_ALG, versionedUriOf: (name, version) => `local:${name}/${version}` },
);
