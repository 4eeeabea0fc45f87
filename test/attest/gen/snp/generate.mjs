// Generates the SEV-SNP verifier vectors in test/vectors/attest-snp/ from the built library
// (`npm run build` first; run by hand: `node test/attest/gen/snp/generate.mjs`). Each file is one
// case: its inputs (report hex, certificates, trust roots, clock, policy) and the exact ids of the
// checks that must fail. Keys are fresh test keys each run, so files change when regenerated.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { encodeSnpReport, parseSnpReport } from '../../../../dist/attest/snp/index.js';
import { amdExtensions, ecKey, issue, rootSet, signSnpReport } from './pki.mjs';

const OUT = new URL('../../../vectors/attest-snp/', import.meta.url);
const NOW = '2026-01-15T00:00:00.000Z';
const ROOT_VALIDITY = {
  notBefore: new Date('2020-01-01T00:00:00Z'),
  notAfter: new Date('2045-01-01T00:00:00Z'),
};
const LEAF_VALIDITY = {
  notBefore: new Date('2025-01-01T00:00:00Z'),
  notAfter: new Date('2032-01-01T00:00:00Z'),
};
const EXPIRED = { notBefore: new Date('2022-01-01T00:00:00Z'), notAfter: new Date('2025-01-01T00:00:00Z') };

const ROOTS = {
  Milan: rootSet('Milan', ROOT_VALIDITY),
  Genoa: rootSet('Genoa', ROOT_VALIDITY),
  Turin: rootSet('Turin', ROOT_VALIDITY),
};
const CPUID = { Milan: [0x19, 0x01, 0x01], Genoa: [0x19, 0x11, 0x01], Turin: [0x1a, 0x02, 0x00] };
const STEPPING = { Milan: 'Milan-B0', Genoa: 'Genoa-B1', Turin: 'Turin-B0' };
const TCB = {
  Milan: { bootloader: 3, tee: 0, snp: 8, microcode: 115 },
  Genoa: { bootloader: 7, tee: 0, snp: 14, microcode: 72 },
  Turin: { fmc: 1, bootloader: 1, tee: 1, snp: 1, microcode: 64 },
};
const fill = (label, n) =>
  createHash('sha512')
    .update(label)
    .digest()
    .subarray(0, n)
    .toString('hex')
    .padEnd(n * 2, '0');
const FIELDS = {
  familyId: fill('family', 16),
  imageId: fill('image', 16),
  reportData: fill('report-data', 64),
  measurement: createHash('sha384').update('measurement').digest('hex'),
  hostData: fill('host-data', 32),
  idKeyDigest: createHash('sha384').update('id-key').digest('hex'),
  authorKeyDigest: createHash('sha384').update('author-key').digest('hex'),
  chipId: createHash('sha512').update('chip').digest('hex'),
};

// TCB_VERSION byte positions, written here from the ABI spec (56860) rather than taken from the
// library, so the vectors check its decoding: Milan/Genoa BOOT_LOADER, TEE, 4 reserved, SNP,
// MICROCODE; Turin FMC, BOOT_LOADER, TEE, SNP, 3 reserved, MICROCODE.
const TCB_BYTES = {
  Milan: { bootloader: 0, tee: 1, snp: 6, microcode: 7 },
  Genoa: { bootloader: 0, tee: 1, snp: 6, microcode: 7 },
  Turin: { fmc: 0, bootloader: 1, tee: 2, snp: 3, microcode: 7 },
};
function encodeTcb(tcb, product) {
  const b = Buffer.alloc(8);
  for (const [c, at] of Object.entries(TCB_BYTES[product])) b[at] = tcb[c] ?? 0;
  return b.readBigUInt64LE(0);
}

/** Builds a report's bytes (unsigned). */
function reportBytes({
  product,
  version = 3,
  tcb = TCB[product],
  committedTcb = tcb,
  keyInfo = 0,
  policy = 0x30000n,
  sigAlgo = 1,
  chipId = FIELDS.chipId,
  committed = [1, 55, 24],
}) {
  const b = Buffer.alloc(0x4a0);
  b.writeUInt32LE(version, 0);
  b.writeUInt32LE(2, 0x04); // GUEST_SVN
  b.writeBigUInt64LE(policy, 0x08);
  b.write(FIELDS.familyId, 0x10, 'hex');
  b.write(FIELDS.imageId, 0x20, 'hex');
  b.writeUInt32LE(sigAlgo, 0x34);
  const raw = encodeTcb(tcb, product);
  b.writeBigUInt64LE(raw, 0x38);
  b.writeBigUInt64LE(0x3n, 0x40);
  b.writeUInt32LE(keyInfo, 0x48);
  b.write(FIELDS.reportData, 0x50, 'hex');
  b.write(FIELDS.measurement, 0x90, 'hex');
  b.write(FIELDS.hostData, 0xc0, 'hex');
  b.write(FIELDS.idKeyDigest, 0xe0, 'hex');
  b.write(FIELDS.authorKeyDigest, 0x110, 'hex');
  b.write(fill('report-id', 32), 0x140, 'hex');
  b.fill(0xff, 0x160, 0x180); // REPORT_ID_MA: no migration agent
  b.writeBigUInt64LE(raw, 0x180);
  if (version >= 3) b.set(CPUID[product], 0x188);
  b.write(chipId, 0x1a0, 'hex');
  b.writeBigUInt64LE(encodeTcb(committedTcb, product), 0x1e0);
  b.set([24, 55, 1], 0x1e8); // current build, minor, major
  b.set([committed[2], committed[1], committed[0]], 0x1ec);
  b.writeBigUInt64LE(raw, 0x1f0);
  if (version >= 5) b.writeBigUInt64LE(0x1n, 0x1f8);
  if (version >= 5) b.writeBigUInt64LE(0x3n, 0x200);
  return b;
}

/** Signs report bytes: ECDSA P-384 SHA-384 over 0x000–0x29F, R and S little-endian in 72-byte fields. */
function signReport(b, privateKey) {
  signSnpReport(b, privateKey);
  if (!encodeSnpReport(parseSnpReport(b)).equals(b)) throw new Error('round trip failed');
  return b;
}

function endorsementKey({
  product,
  signer = 'vcek',
  tcb = TCB[product],
  hwid,
  cspId = 'sealtrain-test-csp',
  validity = LEAF_VALIDITY,
  cn: subjectCn,
}) {
  const key = ecKey();
  const issuer = signer === 'vcek' ? ROOTS[product].ask : ROOTS[product].asvk;
  const fullChip = product === 'Turin' ? FIELDS.chipId.slice(0, 16) : FIELDS.chipId;
  const extensions = amdExtensions({
    productName: STEPPING[product],
    tcb,
    ...(signer === 'vcek' ? { hwid: hwid ?? fullChip } : {}),
    ...(signer === 'vlek' && cspId !== null ? { cspId } : {}),
  });
  const cn = subjectCn ?? (signer === 'vcek' ? 'SEV-VCEK' : 'SEV-VLEK');
  return { key, pem: issue({ cn, publicKey: key.publicKey, issuer, ...validity, extensions }) };
}

function vector(
  name,
  description,
  {
    product = 'Milan',
    report = {},
    leaf = {},
    signWith,
    certificates = {},
    roots,
    policy,
    expectFailed,
    now = NOW,
    verifyProduct,
  },
) {
  const signer = (report.keyInfo ?? 0) >> 2 === 1 ? 'vlek' : 'vcek';
  const ek = endorsementKey({ product, signer, ...leaf });
  const bytes = signReport(reportBytes({ product, ...report }), (signWith ?? ek.key).privateKey);
  return {
    name,
    body: {
      description,
      now,
      ...(verifyProduct ? { product: verifyProduct } : {}),
      report: bytes.toString('hex'),
      certificates: { [signer]: ek.pem, ...certificates },
      roots: roots ?? { [product]: ROOTS[product].pem },
      ...(policy ? { policy } : {}),
      expectFailed: [...expectFailed].sort(),
    },
  };
}

function cases() {
  const v = [];
  for (const version of [2, 3, 4, 5])
    v.push(
      vector(`valid-milan-v${version}`, `A valid Milan report, version ${version}.`, {
        report: { version },
        expectFailed: [],
      }),
    );
  v.push(vector('valid-genoa-v3', 'A valid Genoa report.', { product: 'Genoa', expectFailed: [] }));
  v.push(
    vector('valid-turin-v5', 'A valid Turin report: TCB layout with FMC, 8-byte hwID.', {
      product: 'Turin',
      report: { version: 5 },
      expectFailed: [],
    }),
  );
  for (const c of ['bootloader', 'tee', 'snp', 'microcode'])
    v.push(
      vector(`tcb-${c}-mismatch`, `The VCEK's ${c} SPL differs from the reported TCB.`, {
        leaf: { tcb: { ...TCB.Milan, [c]: TCB.Milan[c] + 1 } },
        expectFailed: [`snp.tcb.${c}`],
      }),
    );
  v.push(
    vector('tcb-fmc-mismatch-turin', "The Turin VCEK's FMC SPL differs from the reported TCB.", {
      product: 'Turin',
      leaf: { tcb: { ...TCB.Turin, fmc: 2 } },
      expectFailed: ['snp.tcb.fmc'],
    }),
  );
  v.push(
    vector('chip-id-mismatch', "CHIP_ID is not the VCEK's hwID.", {
      leaf: { hwid: createHash('sha512').update('other chip').digest('hex') },
      expectFailed: ['snp.chip-id'],
    }),
  );
  v.push(
    vector(
      'chip-id-masked',
      'MASK_CHIP_KEY is set and CHIP_ID is zero: chip id not compared (passes with a note).',
      { report: { keyInfo: 2, chipId: '00'.repeat(64) }, expectFailed: [] },
    ),
  );
  v.push(
    vector('vlek-valid', 'A VLEK-signed report with the CSP id extension, under the ASVK.', {
      report: { keyInfo: 1 << 2 },
      expectFailed: [],
    }),
  );
  v.push(
    vector('vlek-no-csp-id', 'A VLEK without the CSP id extension.', {
      report: { keyInfo: 1 << 2 },
      leaf: { cspId: null },
      expectFailed: ['snp.vlek.csp-id'],
    }),
  );
  v.push(
    vector('leaf-role-mismatch', 'SIGNING_KEY says VCEK but the leaf certificate is named SEV-VLEK.', {
      leaf: { cn: 'SEV-VLEK' },
      expectFailed: ['snp.cert.role'],
    }),
  );
  v.push(
    vector('wrong-signer-key', 'The report is signed by a P-384 key other than the VCEK.', {
      signWith: ecKey(),
      expectFailed: ['snp.signature'],
    }),
  );
  v.push(
    vector('unknown-signature-algo', 'SIGNATURE_ALGO is 2, which is not defined.', {
      report: { sigAlgo: 2 },
      expectFailed: ['snp.signature'],
    }),
  );
  v.push(
    vector('expired-vcek', 'The VCEK expired before the pinned clock.', {
      leaf: { validity: EXPIRED },
      expectFailed: ['snp.cert.validity'],
    }),
  );
  v.push(
    vector('milan-vcek-under-genoa-roots', 'A Milan VCEK checked against the Genoa roots.', {
      roots: { Milan: ROOTS.Genoa.pem },
      expectFailed: ['snp.chain.vcek'],
    }),
  );
  v.push(
    vector('ark-not-pinned', 'The evidence carries an ARK that is not the pinned root.', {
      certificates: { ark: ROOTS.Genoa.pem.ark },
      expectFailed: ['snp.chain.ark'],
    }),
  );
  v.push(
    vector('product-mismatch', 'The caller says Genoa, the VCEK and CPUID say Milan.', {
      verifyProduct: 'Genoa',
      roots: { Milan: ROOTS.Milan.pem, Genoa: ROOTS.Genoa.pem },
      expectFailed: ['snp.product', 'snp.chain.vcek'],
    }),
  );
  const policyCase = (name, policy, failed, report = {}, product = 'Milan') =>
    v.push(
      vector(`policy-${name}`, `Verifies; the policy ${JSON.stringify(policy)} fails ${failed}.`, {
        product,
        report,
        policy,
        expectFailed: [failed],
      }),
    );
  policyCase('debug', { debug: false }, 'policy.debug', { policy: 0xb0000n });
  policyCase('migration-agent', { migrationAgent: false }, 'policy.migration-agent', { policy: 0x70000n });
  policyCase('smt', { smt: false }, 'policy.smt');
  policyCase('vmpl', { vmpl: 1 }, 'policy.vmpl');
  for (const c of ['bootloader', 'tee', 'snp', 'microcode'])
    policyCase(`min-tcb-${c}`, { minTcb: { [c]: TCB.Milan[c] + 1 } }, `policy.min-tcb.${c}`);
  policyCase('min-tcb-fmc', { minTcb: { fmc: 2 } }, 'policy.min-tcb.fmc', {}, 'Turin');
  policyCase('committed-tcb', { permitProvisionalFirmware: false }, 'policy.committed-tcb', {
    committedTcb: { ...TCB.Milan, snp: 7 },
    committed: [1, 55, 21],
  });
  policyCase('measurement', { measurements: ['00'.repeat(48)] }, 'policy.measurement');
  policyCase('host-data', { hostData: '00'.repeat(32) }, 'policy.host-data');
  policyCase('report-data', { reportData: '00'.repeat(64) }, 'policy.report-data');
  policyCase('family-id', { familyId: '00'.repeat(16) }, 'policy.family-id');
  policyCase('image-id', { imageId: '00'.repeat(16) }, 'policy.image-id');
  policyCase('guest-svn', { minGuestSvn: 3 }, 'policy.guest-svn');
  policyCase('id-key-digest', { idKeyDigests: ['00'.repeat(48)] }, 'policy.id-key-digest');
  policyCase('author-key-digest', { authorKeyDigests: ['00'.repeat(48)] }, 'policy.author-key-digest');
  policyCase('report-version', { minReportVersion: 4 }, 'policy.report-version');
  policyCase('signer', { signer: 'vlek' }, 'policy.signer');
  v.push(
    vector('policy-all-pass', 'Every policy field set to what the report shows: nothing fails.', {
      policy: {
        debug: false,
        migrationAgent: false,
        smt: true,
        vmpl: 0,
        minTcb: TCB.Milan,
        permitProvisionalFirmware: false,
        measurements: [FIELDS.measurement],
        hostData: FIELDS.hostData,
        reportData: FIELDS.reportData,
        familyId: FIELDS.familyId,
        imageId: FIELDS.imageId,
        minGuestSvn: 2,
        idKeyDigests: [FIELDS.idKeyDigest],
        authorKeyDigests: [FIELDS.authorKeyDigest],
        minReportVersion: 3,
        signer: 'vcek',
      },
      expectFailed: [],
    }),
  );
  return v;
}

await mkdir(OUT, { recursive: true });
for (const f of await readdir(OUT)) if (f.endsWith('.json')) await rm(new URL(f, OUT));
const all = cases();
for (const { name, body } of all)
  await writeFile(new URL(`${name}.json`, OUT), `${JSON.stringify(body, null, 2)}\n`);
// The project's formatter owns JSON layout; format the output so `biome check` passes.
execFileSync('npx', ['biome', 'format', '--write', OUT.pathname], { stdio: 'ignore' });
console.log(`wrote ${all.length} vectors to ${OUT.pathname}`);
