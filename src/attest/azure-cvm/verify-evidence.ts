import { constants, createHash, type KeyObject, timingSafeEqual, verify } from 'node:crypto';
import { type Check, CheckList } from '../check.js';
import type { Claims } from '../claims.js';
import { HCL_HASH_TYPE } from './hcl-report.js';
import { type AzureCvmEvidence, HCL_AK_KID } from './parse-evidence.js';
import { azureRuntimeClaims } from './runtime-claims.js';
import {
  TPM_ALG,
  TPM_GENERATED_VALUE,
  TPM_ST_ATTEST_QUOTE,
  tpmDigestBytes,
  tpmHashName,
} from './tpm-attest.js';

/** Where report_data sits in an SEV-SNP attestation report (AMD SEV-SNP firmware ABI, 56860, ATTESTATION_REPORT: offset 50h). */
const SNP_REPORT_DATA_OFFSET = 0x50;

/** Options for {@link verifyAzureCvmEvidence}. */
export interface AzureCvmVerifyOptions {
  /**
   * The qualifying data the quote must carry: the request binding (docs/spec/evidence-v1.md,
   * "Binding"), i.e. the nonce itself when there is no runtime key. Absent: freshness is not checked.
   */
  readonly nonce?: Uint8Array;
}

/** What {@link verifyAzureCvmEvidence} found. The SNP report is for the SNP verifier to check. */
export interface AzureCvmVerifyResult {
  /** Every check made, passed or failed, in order. */
  readonly checks: Check[];
  /** The SEV-SNP report inside the HCL report: run the SNP verifier on it (with `vcek`). */
  readonly snpReport: Uint8Array;
  /** The VCEK (DER) the evidence carried, if any. */
  readonly vcek?: Uint8Array;
  /** The key the quote was checked with: `ak_pub` when the evidence has it, otherwise HCLAkPub. */
  readonly akPublicKey: KeyObject;
  /** `x-ms-runtime` and `x-ms-azurevm-attested-pcrs` (see `azureRuntimeClaims`). */
  readonly runtimeClaims: Claims;
  /** The quoted SHA-256 PCR values by index; empty when they do not match the selection. */
  readonly pcrs: Map<number, Buffer>;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function checkBinding(evidence: AzureCvmEvidence, checks: CheckList): void {
  const id = 'azure.report-data-binding';
  const { hashType, variableData } = evidence.hcl.runtimeData;
  const hash = HCL_HASH_TYPE[hashType];
  if (hash === undefined) {
    checks.fail(id, `HCL runtime data hash type ${hashType} is not SHA-256 (1), SHA-384 (2) or SHA-512 (3).`);
    return;
  }
  const reportData = evidence.hcl.snpReport.subarray(SNP_REPORT_DATA_OFFSET, SNP_REPORT_DATA_OFFSET + 64);
  const digest = createHash(hash.name).update(variableData).digest();
  const head = reportData.subarray(0, hash.bytes);
  const rest = reportData.subarray(hash.bytes);
  if (!equalBytes(head, digest))
    checks.fail(
      id,
      `SNP report_data[0:${hash.bytes}] is ${head.toString('hex')}, not the ${hash.name} of the HCL variable data (${digest.toString('hex')}).`,
    );
  else if (!rest.every((b) => b === 0))
    checks.fail(id, `SNP report_data[${hash.bytes}:64] is not zero: ${rest.toString('hex')}.`);
  else
    checks.pass(id, `SNP report_data binds the HCL variable data (${hash.name} ${digest.toString('hex')}).`);
}

function checkAk(evidence: AzureCvmEvidence, checks: CheckList): void {
  const id = 'azure.ak';
  if (evidence.akPub === undefined)
    checks.pass(id, `The quote is checked with ${HCL_AK_KID} from the HCL variable data.`);
  else if (evidence.akPub.equals(evidence.hclAkPub))
    checks.pass(id, `The TPM's attestation key (ak_pub) is ${HCL_AK_KID} from the HCL variable data.`);
  else
    checks.fail(
      id,
      `The TPM's attestation key (ak_pub) that signed the quote is not ${HCL_AK_KID} from the HCL variable data.`,
    );
}

function checkSignature(evidence: AzureCvmEvidence, key: KeyObject, checks: CheckList): void {
  const id = 'azure.quote.signature';
  const { scheme, hashAlg, signature } = evidence.quote.signature;
  const hashName = tpmHashName(hashAlg) ?? 'sha256';
  if (key.asymmetricKeyType !== 'rsa') {
    checks.fail(id, `The attestation key is ${key.asymmetricKeyType}, not RSA.`);
    return;
  }
  const padding = scheme === 'rsapss' ? constants.RSA_PKCS1_PSS_PADDING : constants.RSA_PKCS1_PADDING;
  let ok = false;
  try {
    ok = verify(
      hashName,
      evidence.quote.message,
      { key, padding, saltLength: constants.RSA_PSS_SALTLEN_AUTO },
      signature,
    );
  } catch {
    ok = false;
  }
  const what = `${scheme.toUpperCase()} ${hashName.toUpperCase()} signature over TPMS_ATTEST`;
  checks.add(
    id,
    ok,
    ok
      ? `The ${what} verifies with the attestation key.`
      : `The ${what} does not verify with the attestation key.`,
  );
}

function checkHeader(evidence: AzureCvmEvidence, checks: CheckList): void {
  const { magic, type } = evidence.quote.attest;
  checks.add(
    'azure.quote.magic',
    magic === TPM_GENERATED_VALUE,
    `TPMS_ATTEST.magic is 0x${magic.toString(16)}${magic === TPM_GENERATED_VALUE ? '' : `, not TPM_GENERATED_VALUE 0x${TPM_GENERATED_VALUE.toString(16)}`}.`,
  );
  checks.add(
    'azure.quote.type',
    type === TPM_ST_ATTEST_QUOTE,
    `TPMS_ATTEST.type is 0x${type.toString(16)}${type === TPM_ST_ATTEST_QUOTE ? ' (TPM_ST_ATTEST_QUOTE)' : ', not TPM_ST_ATTEST_QUOTE 0x8018'}.`,
  );
}

function checkNonce(evidence: AzureCvmEvidence, nonce: Uint8Array | undefined, checks: CheckList): void {
  if (nonce === undefined) return;
  const extra = evidence.quote.attest.extraData;
  const ok = equalBytes(extra, nonce);
  checks.add(
    'azure.quote.nonce',
    ok,
    ok
      ? `TPMS_ATTEST.extraData is the expected nonce (${extra.toString('hex')}).`
      : `TPMS_ATTEST.extraData is ${extra.toString('hex')}, not the expected nonce ${Buffer.from(nonce).toString('hex')}.`,
  );
}

/** Checks the PCR digest and returns the SHA-256 PCR values by index when they line up. */
function checkPcrs(evidence: AzureCvmEvidence, checks: CheckList): Map<number, Buffer> {
  const id = 'azure.quote.pcr-digest';
  const { pcrSelect, pcrDigest } = evidence.quote.attest;
  const { pcrs } = evidence.quote;
  const slots = pcrSelect.flatMap((bank) => bank.pcrs.map((index) => ({ bank: bank.hashAlg, index })));
  if (slots.length !== pcrs.length) {
    checks.fail(id, `The quote selects ${slots.length} PCRs but the evidence gives ${pcrs.length} values.`);
    return new Map();
  }
  const wrong = slots.findIndex((slot, i) => tpmDigestBytes(slot.bank) !== pcrs[i]?.length);
  if (wrong >= 0) {
    checks.fail(
      id,
      `tpm_quote.pcrs[${wrong}] is not a digest of its bank (0x${slots[wrong]?.bank.toString(16)}).`,
    );
    return new Map();
  }
  const hashName = tpmHashName(evidence.quote.signature.hashAlg) ?? 'sha256';
  const digest = createHash(hashName);
  for (const value of pcrs) digest.update(value);
  const computed = digest.digest();
  const ok = equalBytes(computed, pcrDigest);
  checks.add(
    id,
    ok,
    ok
      ? `TPMS_QUOTE_INFO.pcrDigest is the ${hashName} of the ${pcrs.length} PCR values given.`
      : `TPMS_QUOTE_INFO.pcrDigest is ${pcrDigest.toString('hex')}, not the ${hashName} of the PCR values given (${computed.toString('hex')}).`,
  );
  const out = new Map<number, Buffer>();
  slots.forEach((slot, i) => {
    const value = pcrs[i];
    if (slot.bank === TPM_ALG.sha256 && value !== undefined) out.set(slot.index, value);
  });
  return out;
}

/**
 * Verifies Azure confidential-VM evidence up to, not including, the SEV-SNP report: the HCL
 * variable data is bound into the SNP report data (`azure.report-data-binding`); the quote is a
 * TPM-generated quote (`azure.quote.magic`, `azure.quote.type`) signed by the attestation key
 * (`azure.quote.signature`) that the variable data names as HCLAkPub (`azure.ak`); its qualifying
 * data is the expected nonce (`azure.quote.nonce`, only when `options.nonce` is given); its PCR
 * digest covers the PCR values given (`azure.quote.pcr-digest`). Every check runs; failures are
 * checks, not throws. Run the SNP verifier on `snpReport` (with `vcek`) to finish.
 */
export function verifyAzureCvmEvidence(
  evidence: AzureCvmEvidence,
  options: AzureCvmVerifyOptions = {},
): AzureCvmVerifyResult {
  const checks = new CheckList();
  const akPublicKey = evidence.akPub ?? evidence.hclAkPub;
  checkBinding(evidence, checks);
  checkAk(evidence, checks);
  checkHeader(evidence, checks);
  checkSignature(evidence, akPublicKey, checks);
  checkNonce(evidence, options.nonce, checks);
  const pcrs = checkPcrs(evidence, checks);
  return {
    checks: [...checks.all],
    snpReport: evidence.hcl.snpReport,
    ...(evidence.vcek === undefined ? {} : { vcek: evidence.vcek }),
    akPublicKey,
    runtimeClaims: azureRuntimeClaims(evidence),
    pcrs,
  };
}
