// Key Vault signs its release answers with a certificate and sends the chain as `x5c`: the
// workload verifies the chain to a root it trusts (the system's, or the vault's CA) and the
// signature with the first certificate's key. A chain that leads elsewhere, is out of order or out
// of date, or holds another key is refused, naming the part, and no key is unwrapped.

import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { unwrapReleasedKey } from '../../../src/broker/release/index.js';
import { createCaCertificate, createServerCertificate } from '../../../src/broker/tls/certificates.js';
import { broker, brokerKey, runtimeKey, simToken } from '../attestation/fixtures.js';
import { rejectsWith } from '../helpers.js';
import { dataKey, release, request, signer } from './fixtures.js';

function ca(name: string) {
  const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const issuer = { commonName: name, ...keys };
  return { issuer, pem: createCaCertificate(issuer) };
}
const der = (pem: string) => new X509Certificate(pem).raw.toString('base64');

const vaultCa = ca('vault signing CA');
const leaf = createServerCertificate(
  { publicKey: brokerKey.publicKey, hosts: ['vault.test'] },
  vaultCa.issuer,
);
const chain = [der(leaf), der(vaultCa.pem)];
const noKeys = { keys: [] };

async function refused(unwrap: Promise<unknown>, message: RegExp): Promise<void> {
  expect((await rejectsWith(unwrap, 'ERR_KMS_UNWRAP_FAILED')).message).toMatch(message);
}

async function answer(x5c: string[]): Promise<string> {
  const b = broker();
  return (await release(request(b, await simToken(b), { signer: { ...signer, x5c } }))).value;
}

describe('a release answer with x5c', () => {
  it("verifies by its chain to a trusted root, without the vault's JWKS", async () => {
    const released = await unwrapReleasedKey(await answer(chain), runtimeKey.privateKey, {
      brokerJwks: noKeys,
      x5cRoots: [vaultCa.pem],
    });
    expect(released.material).toEqual(dataKey);
    const leafOnly = await unwrapReleasedKey(await answer([der(leaf)]), runtimeKey.privateKey, {
      brokerJwks: noKeys,
      x5cRoots: [vaultCa.pem],
    });
    expect(leafOnly.material).toEqual(dataKey);
  });

  it('refuses a chain that leads to no trusted root', async () => {
    await refused(
      unwrapReleasedKey(await answer(chain), runtimeKey.privateKey, {
        brokerJwks: noKeys,
        x5cRoots: [ca('someone else').pem],
      }),
      /the JWS header x5c does not lead to a trusted root/,
    );
  });

  it('refuses a chain out of order, and a certificate out of date', async () => {
    await refused(
      unwrapReleasedKey(await answer([der(vaultCa.pem), der(leaf)]), runtimeKey.privateKey, {
        brokerJwks: noKeys,
        x5cRoots: [vaultCa.pem],
      }),
      /x5c\[1\] is not a CA certificate|x5c\[0\] is not signed by x5c\[1\]/,
    );
    await refused(
      unwrapReleasedKey(await answer(chain), runtimeKey.privateKey, {
        brokerJwks: noKeys,
        x5cRoots: [vaultCa.pem],
        now: new Date(Date.now() + 3 * 365 * 86_400_000),
      }),
      /x5c\[0\] is not valid now/,
    );
  });

  it("refuses a certificate for another key: the signature does not verify with the vault's key", async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const otherLeaf = createServerCertificate({ publicKey: other, hosts: ['vault.test'] }, vaultCa.issuer);
    await refused(
      unwrapReleasedKey(await answer([der(otherLeaf), der(vaultCa.pem)]), runtimeKey.privateKey, {
        brokerJwks: noKeys,
        x5cRoots: [vaultCa.pem],
      }),
      /the JWS signature does not verify/,
    );
  });

  it('refuses an x5c entry that is not a certificate', async () => {
    await refused(
      unwrapReleasedKey(await answer(['AAEC']), runtimeKey.privateKey, {
        brokerJwks: noKeys,
        x5cRoots: [vaultCa.pem],
      }),
      /x5c\[0\] is not a base64 DER certificate/,
    );
  });
});
