import { describe, expect, it } from 'vitest';
import {
  AMD_ROOTS,
  parseSnpReport,
  validateSnpReport,
  verifySnpReport,
} from '../../../src/attest/snp/index.js';
import { isSealtrainError } from '../../../src/errors/index.js';
import { failedIds, milanDebug, milanValid, PINNED, pems } from './fixtures.js';

describe('verifySnpReport on the real Milan report', () => {
  it('passes every check with the clock pinned inside the VCEK validity', async () => {
    const result = await verifySnpReport(milanValid.report, {
      now: PINNED,
      certificates: { vcek: milanValid.vcek },
    });
    expect(failedIds(result.checks)).toEqual([]);
    expect(result.checks.map((c) => c.id)).toEqual([
      'snp.signer',
      'snp.product',
      'snp.chain.ark',
      'snp.chain.ask',
      'snp.cert.role',
      'snp.chain.vcek',
      'snp.cert.validity',
      'snp.signature',
      'snp.tcb.bootloader',
      'snp.tcb.tee',
      'snp.tcb.snp',
      'snp.tcb.microcode',
      'snp.chip-id',
    ]);
    expect(result.product).toBe('Milan');
    expect(result.signer).toBe('vcek');
    const r = result.report;
    expect(r.version).toBe(2);
    expect(r.measurement).toBe(
      '7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f',
    );
    expect([r.reportedTcb.bootloader, r.reportedTcb.tee, r.reportedTcb.snp, r.reportedTcb.microcode]).toEqual(
      [3, 0, 8, 115],
    );
    expect(r.chipId).toBe(
      'd49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efacfd08e244324884738c72b082e2f87a44d541eb6',
    );
    expect(r.policy.debug).toBe(false);
    expect(r.vmpl).toBe(0);
  });

  it('passes with the chain supplied as evidence (ASK and ARK from cert_chain)', async () => {
    const [ask, ark] = pems(milanValid.chain);
    const result = await verifySnpReport(milanValid.report, {
      now: PINNED,
      certificates: { vcek: milanValid.vcek, ask: ask ?? '', ark: ark ?? '' },
    });
    expect(failedIds(result.checks)).toEqual([]);
  });

  it('fails only snp.signature when the top bit of byte 21 flips', async () => {
    const tampered = Buffer.from(milanValid.report);
    tampered[21] = (tampered[21] ?? 0) ^ 0x80;
    const result = await verifySnpReport(tampered, { now: PINNED, certificates: { vcek: milanValid.vcek } });
    expect(failedIds(result.checks)).toEqual(['snp.signature']);
  });

  it('fails the chain when the Milan VCEK is checked under the Genoa roots', async () => {
    const result = await verifySnpReport(milanValid.report, {
      now: PINNED,
      certificates: { vcek: milanValid.vcek },
      roots: { Milan: AMD_ROOTS.Genoa },
    });
    expect(failedIds(result.checks)).toEqual(['snp.chain.vcek']);
  });

  it('fails the chain and the product when told the Milan VCEK is Genoa', async () => {
    const result = await verifySnpReport(milanValid.report, {
      now: PINNED,
      certificates: { vcek: milanValid.vcek },
      product: 'Genoa',
    });
    expect(failedIds(result.checks)).toEqual(['snp.chain.vcek', 'snp.product']);
  });

  it('fails snp.chain.ark when a supplied ARK is not the pinned root', async () => {
    const [, genoaArk] = pems(AMD_ROOTS.Genoa.ark + AMD_ROOTS.Genoa.ark);
    const result = await verifySnpReport(milanValid.report, {
      now: PINNED,
      certificates: { vcek: milanValid.vcek, ark: genoaArk ?? '' },
    });
    expect(failedIds(result.checks)).toEqual(['snp.chain.ark']);
  });

  it('fails snp.cert.validity after the VCEK expires, and passes again with the clock pinned', async () => {
    const late = await verifySnpReport(milanValid.report, {
      now: new Date('2031-01-01T00:00:00Z'),
      certificates: { vcek: milanValid.vcek },
    });
    expect(failedIds(late.checks)).toEqual(['snp.cert.validity']);
    const early = await verifySnpReport(milanValid.report, {
      now: new Date('2020-01-01T00:00:00Z'),
      certificates: { vcek: milanValid.vcek },
    });
    expect(failedIds(early.checks)).toEqual(['snp.cert.validity']);
  });

  it('says how to supply a missing VCEK instead of throwing', async () => {
    const result = await verifySnpReport(milanValid.report, { now: PINNED });
    expect(failedIds(result.checks)).toEqual([
      'snp.chain.ark',
      'snp.chain.vcek',
      'snp.product',
      'snp.signature',
    ]);
    expect(result.checks.find((c) => c.id === 'snp.chain.vcek')?.message).toMatch(
      /certificates\.vcek.*certCache.*fetcher/,
    );
  });

  it('fetches a missing VCEK through the fetcher with the KDS URL', async () => {
    const urls: string[] = [];
    const result = await verifySnpReport(milanValid.report, {
      now: PINNED,
      product: 'Milan',
      fetcher: async (req) => {
        urls.push(req.url);
        return milanValid.vcek;
      },
    });
    expect(failedIds(result.checks)).toEqual([]);
    expect(urls).toEqual([
      `https://kdsintf.amd.com/vcek/v1/Milan/${result.report.chipId}?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115`,
    ]);
  });

  it('turns a failing fetcher into a failed check', async () => {
    const result = await verifySnpReport(milanValid.report, {
      now: PINNED,
      product: 'Milan',
      fetcher: async () => {
        throw new Error('offline');
      },
    });
    expect(failedIds(result.checks)).toEqual(['snp.chain.vcek', 'snp.signature']);
    expect(result.checks.find((c) => c.id === 'snp.chain.vcek')?.message).toMatch(/offline/);
  });
});

describe('the real Milan debug report', () => {
  it('verifies, but a policy with debug off fails exactly policy.debug', async () => {
    const result = await verifySnpReport(milanDebug.report, {
      now: PINNED,
      certificates: { vcek: milanDebug.vcek },
    });
    expect(failedIds(result.checks)).toEqual([]);
    expect(result.report.policy.raw).toBe(0xb0000n);
    expect(result.report.policy.debug).toBe(true);
    const tcb = result.report.reportedTcb;
    expect([tcb.bootloader, tcb.tee, tcb.snp, tcb.microcode]).toEqual([2, 0, 5, 68]);
    const checks = validateSnpReport(result.report, { debug: false, migrationAgent: false, vmpl: 0 });
    expect(failedIds(checks)).toEqual(['policy.debug']);
    expect(checks).toHaveLength(3);
  });
});

describe('coded errors for bad input', () => {
  const code = async (fn: () => unknown) => {
    try {
      await fn();
    } catch (error) {
      return isSealtrainError(error) ? `${error.code}: ${error.message}` : `not ours: ${String(error)}`;
    }
    return 'no error';
  };

  it('refuses truncated and oversized reports naming the length', async () => {
    expect(await code(() => verifySnpReport(milanValid.report.subarray(0, 1000)))).toMatch(
      /^ERR_ATTEST_MALFORMED: .*1000 bytes.*1184/,
    );
    expect(await code(() => parseSnpReport(Buffer.concat([milanValid.report, Buffer.alloc(1)])))).toMatch(
      /^ERR_ATTEST_MALFORMED: .*1185 bytes/,
    );
  });

  it('refuses versions outside 2 to 5', async () => {
    for (const v of [0, 1, 6, 0xffffffff]) {
      const b = Buffer.from(milanValid.report);
      b.writeUInt32LE(v, 0);
      expect(await code(() => parseSnpReport(b))).toMatch(
        new RegExp(`^ERR_ATTEST_UNSUPPORTED: .*version ${v}`),
      );
    }
  });

  it('refuses a garbage certificate naming its role', async () => {
    expect(
      await code(() =>
        verifySnpReport(milanValid.report, { certificates: { vcek: Buffer.from('not a cert') } }),
      ),
    ).toMatch(/^ERR_ATTEST_MALFORMED: certificates\.vcek/);
    expect(
      await code(() => verifySnpReport(milanValid.report, { certificates: { ask: 'garbage' } })),
    ).toMatch(/^ERR_ATTEST_MALFORMED: certificates\.ask/);
  });

  it('refuses non-bytes', async () => {
    expect(await code(() => parseSnpReport('abc' as unknown as Uint8Array))).toMatch(/^ERR_ATTEST_MALFORMED/);
  });
});
