// Key Vault signs its release answers with a certificate and sends the chain as `x5c`: a workload
// that asks for it verifies the chain to a root it trusts (the system's, or the vault's CA), the
// first certificate's name against the vault's, and the signature with that certificate's RSA key.
// A chain that leads elsewhere, is out of order, out of date, has a non-CA link, a leaf for another
// name, a CA or EC leaf, another key, or no x5c at all is refused, naming the part, and nothing is
// unwrapped.

import { generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
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
const HOST = 'vault.test';

const vaultCa = ca('vault signing CA');
const certFor = (publicKey: KeyObject, host = HOST, issuer = vaultCa.issuer) =>
  createServerCertificate({ publicKey, hosts: [host] }, issuer);
const leaf = certFor(brokerKey.publicKey);
const chain = [der(leaf), der(vaultCa.pem)];
const trust = { roots: [vaultCa.pem], host: HOST };

async function answer(x5c: string[] | undefined, privateKey = signer.privateKey): Promise<string> {
  const b = broker();
  const s = { ...signer, privateKey, ...(x5c ? { x5c } : {}) };
  return (await release(request(b, await simToken(b), { signer: s }))).value;
}

async function refused(jws: string, message: RegExp, options: { now?: Date; x5c?: typeof trust } = {}) {
  const unwrap = unwrapReleasedKey(jws, runtimeKey.privateKey, {
    brokerJwks: { keys: [] },
    x5c: trust,
    ...options,
  });
  expect((await rejectsWith(unwrap, 'ERR_KMS_UNWRAP_FAILED')).message).toMatch(message);
}

describe('a release answer verified by x5c', () => {
  it("verifies by its chain to a trusted root and the vault's name, without the vault's JWKS", async () => {
    for (const x5c of [chain, [der(leaf)]]) {
      const released = await unwrapReleasedKey(await answer(x5c), runtimeKey.privateKey, {
        brokerJwks: { keys: [] },
        x5c: trust,
      });
      expect(released.material).toEqual(dataKey);
    }
  });

  it('refuses an answer without x5c: no falling back to other keys', async () => {
    await refused(await answer(undefined), /the JWS header x5c is not a list of 1 to 8 certificates/);
  });

  it('refuses a chain that leads to no trusted root, or to a "root" that is not a CA', async () => {
    await refused(await answer(chain), /the JWS header x5c does not lead to a trusted root/, {
      x5c: { roots: [ca('someone else').pem], host: HOST },
    });
    await refused(await answer([der(leaf)]), /the JWS header x5c does not lead to a trusted root/, {
      x5c: { roots: [leaf], host: HOST },
    });
  });

  it('refuses a chain out of order, a wrong issuer, a link that is not a CA, and a certificate out of date', async () => {
    await refused(await answer([der(vaultCa.pem), der(leaf)]), /x5c\[1\] is not a CA certificate/);
    await refused(
      await answer([der(leaf), der(ca('not the issuer').pem)]),
      /x5c\[0\] is not signed by x5c\[1\]/,
    );
    // A leaf issued by an ordinary (non-CA) certificate that the trusted CA issued.
    const middleKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const middle = certFor(middleKeys.publicKey, 'middle.test');
    const underMiddle = certFor(brokerKey.publicKey, HOST, { commonName: 'middle.test', ...middleKeys });
    await refused(await answer([der(underMiddle), der(middle)]), /x5c\[1\] is not a CA certificate/);
    await refused(await answer(chain), /x5c\[0\] is not valid now/, {
      now: new Date(Date.now() + 3 * 365 * 86_400_000),
    });
  });

  it("refuses a first certificate for another name, a CA's own, or an EC key", async () => {
    await refused(
      await answer([der(certFor(brokerKey.publicKey, 'other.test')), der(vaultCa.pem)]),
      /x5c\[0\] is not issued for vault\.test/,
    );
    const ecLeafKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await refused(
      await answer([der(certFor(ecLeafKeys.publicKey)), der(vaultCa.pem)]),
      /x5c\[0\] does not hold an RSA key of 2048 bits or more/,
    );
    const rsaCaKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsaCa = createCaCertificate({ commonName: HOST, ...rsaCaKeys });
    await refused(await answer([der(rsaCa)], rsaCaKeys.privateKey), /x5c\[0\] is a CA certificate/, {
      x5c: { roots: [rsaCa], host: HOST },
    });
  });

  it("refuses a certificate for another key: the signature does not verify with the vault's key", async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    await refused(await answer([der(certFor(other)), der(vaultCa.pem)]), /the JWS signature does not verify/);
  });

  it('refuses an x5c entry that is not a certificate', async () => {
    await refused(await answer(['AAEC']), /x5c\[0\] is not a base64 DER certificate/);
  });
});
