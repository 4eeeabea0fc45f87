import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CLAIM } from '../../../src/attest/claims.js';
import {
  AMD_ROOTS,
  decodeTcb,
  encodeSnpReport,
  encodeTcb,
  kdsUrl,
  parseSnpReport,
  productFromCpuid,
  snpClaims,
  vcekCachePath,
} from '../../../src/attest/snp/index.js';
import { isSealtrainError } from '../../../src/errors/index.js';
import { data, milanValid } from './fixtures.js';

const reportBytes = fc
  .tuple(fc.uint8Array({ minLength: 1184, maxLength: 1184 }), fc.integer({ min: 2, max: 5 }))
  .map(([bytes, version]) => {
    const b = Buffer.from(bytes);
    b.writeUInt32LE(version, 0);
    return b;
  });

describe('parseSnpReport and encodeSnpReport', () => {
  it('round-trips any report of versions 2 to 5 byte for byte', () => {
    fc.assert(
      fc.property(reportBytes, (b) => {
        expect(encodeSnpReport(parseSnpReport(b)).equals(b)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips the real reports', () => {
    for (const b of [milanValid.report, data('snp-milan-debug/attestation.bin')])
      expect(encodeSnpReport(parseSnpReport(b)).equals(b)).toBe(true);
  });

  it('decodes the v2 Milan report fields', () => {
    const r = parseSnpReport(milanValid.report);
    expect(r.cpuid).toBeUndefined();
    expect(r.launchMitVector).toBeUndefined();
    expect(r.policy).toMatchObject({
      raw: 0x30000n,
      smt: true,
      reservedMustBeOne: true,
      debug: false,
      migrateMa: false,
    });
    expect(r.keyInfo).toEqual({ raw: 0, authorKeyEn: false, maskChipKey: false, signingKey: 0 });
    expect(r.signatureAlgo).toBe(1);
  });

  it('reads CPUID in v3+ and mitigation vectors in v5, and decodes Turin TCBs with FMC', () => {
    const b = Buffer.from(milanValid.report);
    b.writeUInt32LE(5, 0);
    b.set([0x1a, 0x02, 0x01], 0x188);
    b.writeBigUInt64LE(encodeTcb({ fmc: 1, bootloader: 2, tee: 3, snp: 4, microcode: 5 }, 'Turin'), 0x180);
    b.writeBigUInt64LE(0x11n, 0x1f8);
    b.writeBigUInt64LE(0x22n, 0x200);
    const r = parseSnpReport(b);
    expect(r.cpuid).toEqual({ family: 0x1a, model: 0x02, stepping: 1 });
    expect(r.product).toBe('Turin');
    expect(r.reportedTcb).toEqual({
      raw: 0x0500000004030201n,
      fmc: 1,
      bootloader: 2,
      tee: 3,
      snp: 4,
      microcode: 5,
    });
    expect([r.launchMitVector, r.currentMitVector]).toEqual([0x11n, 0x22n]);
    expect(encodeSnpReport(r).equals(b)).toBe(true);
  });

  it('decodes the Milan/Genoa TCB layout: bootloader, tee, 4 reserved, snp, microcode', () => {
    expect(decodeTcb(0x7308000000000003n, 'Milan')).toEqual({
      raw: 0x7308000000000003n,
      bootloader: 3,
      tee: 0,
      snp: 8,
      microcode: 115,
    });
    expect(encodeTcb({ bootloader: 3, tee: 0, snp: 8, microcode: 115 })).toBe(0x7308000000000003n);
  });

  it('maps CPUID family and model to product lines', () => {
    expect(productFromCpuid(0x19, 0x01)).toBe('Milan');
    expect(productFromCpuid(0x19, 0x11)).toBe('Genoa');
    expect(productFromCpuid(0x19, 0xa0)).toBe('Genoa');
    expect(productFromCpuid(0x1a, 0x02)).toBe('Turin');
    expect(productFromCpuid(0x17, 0x31)).toBeUndefined();
  });

  it('refuses to encode wrong field types, naming the field', () => {
    const r = parseSnpReport(milanValid.report);
    for (const [patch, field] of [
      [{ measurement: 'abcd' }, 'measurement'],
      [{ vmpl: -1 }, 'vmpl'],
      [{ policy: { ...r.policy, raw: 1 } }, 'policy.raw'],
    ] as const) {
      try {
        encodeSnpReport({ ...r, ...patch } as never);
        expect.unreachable();
      } catch (error) {
        expect(isSealtrainError(error, 'ERR_ATTEST_MALFORMED')).toBe(true);
        expect((error as Error).message).toContain(field);
      }
    }
  });
});

describe('KDS helpers', () => {
  const tcb = decodeTcb(encodeTcb({ fmc: 1, bootloader: 2, tee: 3, snp: 4, microcode: 5 }, 'Turin'), 'Turin');
  it('builds KDS URLs, with fmcSPL and an 8-byte hwid on Turin', () => {
    expect(kdsUrl('Turin', 'ab'.repeat(64), tcb)).toBe(
      `https://kdsintf.amd.com/vcek/v1/Turin/${'ab'.repeat(8)}?fmcSPL=1&blSPL=2&teeSPL=3&snpSPL=4&ucodeSPL=5`,
    );
    expect(vcekCachePath('/c', 'Turin', 'ab'.repeat(64), tcb)).toBe(
      `/c/Turin/${'ab'.repeat(8)}/0500000004030201.der`,
    );
  });
});

describe('AMD_ROOTS', () => {
  it('equals the pinned files in test/attest/data/amd', () => {
    const ders = (name: string) =>
      (
        readFileSync(new URL(`../data/amd/${name}`, import.meta.url), 'latin1').match(
          /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g,
        ) ?? []
      ).map((pem) => new X509Certificate(pem).raw.toString('hex'));
    const der = (pem: string | undefined) => new X509Certificate(pem ?? '').raw.toString('hex');
    for (const [product, vcekFile, vlekFile] of [
      ['Milan', 'ask_ark_milan.pem', 'ask_ark_milan_vlek.pem'],
      ['Genoa', 'ask_ark_genoa.pem', 'ask_ark_genoa_vlek.pem'],
      ['Turin', 'ask_ark_turin_vcek.pem', 'ask_ark_turin_vlek.pem'],
    ] as const) {
      const set = AMD_ROOTS[product];
      expect([der(set.ask), der(set.ark)]).toEqual(ders(vcekFile));
      expect([der(set.asvk), der(set.ark)]).toEqual(ders(vlekFile));
    }
  });
});

describe('snpClaims', () => {
  const token = readFileSync(new URL('../data/maa/attestation.txt', import.meta.url), 'latin1').trim();
  const maa = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;

  it('uses the names and value types of a real MAA token', () => {
    const claims = snpClaims(parseSnpReport(milanValid.report), 'Milan');
    const ours = Object.keys(claims).filter((k) => k.startsWith('x-ms-sevsnpvm-'));
    const tee0 = maa[CLAIM.isolationTee] as Record<string, unknown>;
    const theirs = Object.keys(tee0).filter((k) => k.startsWith('x-ms-sevsnpvm-'));
    expect(ours.sort()).toEqual(theirs.sort());
    for (const name of theirs) expect(typeof claims[name], name).toBe(typeof tee0[name]);
    expect(claims[CLAIM.attestationType]).toBe('sevsnpvm');
    expect(claims[CLAIM.launchMeasurement]).toMatch(/^[0-9a-f]{96}$/);
    expect(claims[CLAIM.bootloaderSvn]).toBe(3);
    expect(claims[CLAIM.microcodeSvn]).toBe(115);
    expect(claims[CLAIM.isDebuggable]).toBe(false);
    const tee = claims[CLAIM.isolationTee] as Record<string, unknown>;
    expect(tee[CLAIM.attestationType]).toBe('sevsnpvm');
    expect(tee[CLAIM.launchMeasurement]).toBe(claims[CLAIM.launchMeasurement]);
  });

  it('adds the FMC SVN on Turin only', () => {
    const b = Buffer.from(milanValid.report);
    b.writeUInt32LE(3, 0);
    b.set([0x1a, 0x02, 0x00], 0x188);
    expect(snpClaims(parseSnpReport(b))[CLAIM.fmcSvn]).toBeTypeOf('number');
    expect(snpClaims(parseSnpReport(milanValid.report))[CLAIM.fmcSvn]).toBeUndefined();
  });
});
