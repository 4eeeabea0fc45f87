import { describe, expect, it } from 'vitest';
import { parseAzureKvUri } from '../../src/kms/index.js';

describe('azurekv: URIs', () => {
  it('maps a vault name to Azure and a host with a port or dot to itself', () => {
    expect(parseAzureKvUri('azurekv://secure-training-kv/keys/training-key')).toEqual({
      vaultUrl: 'https://secure-training-kv.vault.azure.net',
      name: 'training-key',
    });
    expect(parseAzureKvUri('azurekv://127.0.0.1:8443/keys/k1/abc123')).toEqual({
      vaultUrl: 'https://127.0.0.1:8443',
      name: 'k1',
      version: 'abc123',
    });
    expect(parseAzureKvUri('azurekv://kv.example.org/keys/k').vaultUrl).toBe('https://kv.example.org');
  });
  it('refuses anything else with ERR_KMS_BAD_URI naming the URI', () => {
    for (const bad of [
      'azurekv://kv/secrets/x',
      'azurekv:kv/keys/x',
      'azurekv://kv/keys/',
      'azurekv://kv/keys/a_b',
      'azurekv://k v/keys/a',
    ])
      expect(() => parseAzureKvUri(bad)).toThrow(/is not azurekv:\/\/<vault>\/keys/);
  });
});
