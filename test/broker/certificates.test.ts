import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCaCertificate, createServerCertificate } from '../../src/broker/tls/certificates.js';

const ecKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });

describe('broker certificates', () => {
  const ca = { commonName: 'test CA', ...ecKey() };
  const caCert = new X509Certificate(createCaCertificate(ca));
  const server = ecKey();
  const cert = new X509Certificate(
    createServerCertificate({ publicKey: server.publicKey, hosts: ['localhost', '127.0.0.1', '::1'] }, ca),
  );

  it('makes a self-signed CA', () => {
    expect(caCert.ca).toBe(true);
    expect(caCert.verify(ca.publicKey)).toBe(true);
    expect(caCert.subject).toContain('CN=test CA');
    expect(caCert.keyUsage).toBeUndefined();
  });

  it('issues a server certificate for loopback names under the CA', () => {
    expect(cert.ca).toBe(false);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('localhost')).toBe('localhost');
    expect(cert.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
  });

  it('is not verified by another key', () => {
    expect(cert.verify(ecKey().publicKey)).toBe(false);
  });
});
