import { createPublicKey } from 'node:crypto';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { KeyClient } from '@azure/keyvault-keys';
import { loadOrCreateSimKey } from '../../../attest/sim/load-or-create-sim-key.js';
import { auditPaths, verifyAuditLog } from '../../../audit/index.js';
import { attestWorkload } from '../../../broker/client/attested-release.js';
import { addPrincipal, BrokerStore, type RunningBroker, startBroker } from '../../../broker/index.js';
import { prepareDataset } from '../../../data/index.js';
import { isSealtrainError } from '../../../errors/index.js';
import { AzureKeyVaultProvider, auditedProvider } from '../../../kms/index.js';
import {
  buildRunReport,
  RunMonitor,
  readRecordedRun,
  renderReportHtml,
  reportCharts,
} from '../../../monitor/index.js';
import {
  evaluateModel,
  loadSplit,
  openKeyAccess,
  openSealedModel,
  openTrustedLineage,
  parseRunConfig,
  resolveInputs,
  runTraining,
  SIMULATION_WARNING,
} from '../../../run/index.js';
import { writeFileAtomic } from '../../../store/index.js';
import type { Output } from '../output.js';
import type { Session } from '../session.js';
import { expectDemo, memoryPassphrase } from './demo.js';
import { lineageSigner } from './lineage.js';

interface Step {
  readonly step: string;
  readonly ok: true;
  readonly detail: string;
  readonly proves: string;
}

const staticToken = (token: string) => ({
  getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3_600_000 }),
});

/** The release policy of the demo keys: only the broker's tokens for `sim` evidence. */
function simPolicy(authority: string) {
  return {
    version: '1.0.0',
    anyOf: [{ authority, allOf: [{ claim: 'x-ms-attestation-type', equals: 'sim' }] }],
  };
}

/** A production-like policy: a debug-off SEV-SNP VM. The simulated TEE cannot satisfy it. */
function snpPolicy(authority: string) {
  return {
    version: '1.0.0',
    anyOf: [
      {
        authority,
        allOf: [
          { claim: 'x-ms-attestation-type', equals: 'sevsnpvm' },
          { claim: 'x-ms-sevsnpvm-is-debuggable', equals: false },
        ],
      },
    ],
  };
}

async function startDemoBroker(dir: string, session: Session) {
  const sim = await loadOrCreateSimKey(session.home);
  const pass = memoryPassphrase();
  const stateDir = join(dir, 'broker');
  try {
    const broker = await startBroker({
      stateDir,
      passphrase: pass,
      scryptCost: 1 << 15,
      allowSimulated: true,
      simPublicKey: createPublicKey(sim.privateKey),
      log: () => {},
    });
    const store = await BrokerStore.open(stateDir, pass, { mustExist: true });
    try {
      const owner = (await addPrincipal(store, { name: 'data-owner', role: 'owner' })).token;
      const workload = (await addPrincipal(store, { name: 'trainer', role: 'workload' })).token;
      return { broker, owner, workload, sim, stateDir };
    } finally {
      store.close();
    }
  } finally {
    pass.fill(0);
  }
}

function sdkOptions(broker: RunningBroker) {
  return {
    agent: new Agent({ ca: broker.caCertificate }),
    disableChallengeResourceVerification: true,
    retryOptions: { maxRetries: 0 },
  };
}

/**
 * The demo: broker, keys with release policies, prepare and seal, a refused release, training
 * with attested release, evaluation in memory, a tamper check and the audit logs verified.
 */
export async function runDemo(
  session: Session,
  out: Output,
  example: string,
): Promise<Record<string, unknown>> {
  const dir = session.home;
  const steps: Step[] = [];
  const step = (name: string, detail: string, proves: string) => {
    steps.push({ step: name, ok: true, detail, proves });
    out.note(`✔ ${name}: ${detail}\n    proves: ${proves}`);
  };
  out.note(`sealtrain demo in ${dir}\n${SIMULATION_WARNING}\n`);
  const b = await startDemoBroker(dir, session);
  try {
    const host = new URL(b.broker.url).host;
    step(
      'broker',
      `key broker on ${b.broker.url} (TLS; CA ${b.broker.caPath}); it accepts SIMULATED evidence (--allow-simulated)`,
      'the key service speaks the Azure Key Vault API: the same client code talks to Azure',
    );
    const owner = new KeyClient(b.broker.url, staticToken(b.owner), sdkOptions(b.broker));
    const policy = (p: object) => ({ encodedPolicy: Buffer.from(JSON.stringify(p)) });
    for (const name of ['data-key', 'model-key'])
      await owner.createKey(name, 'RSA', {
        keySize: 3072,
        exportable: true,
        releasePolicy: policy(simPolicy(b.broker.url)),
      });
    await owner.createKey('production-key', 'RSA', {
      keySize: 3072,
      exportable: true,
      releasePolicy: policy(snpPolicy(b.broker.url)),
    });
    step(
      'keys create',
      `data-key and model-key (RSA 3072, exportable, release policy: x-ms-attestation-type = sim); production-key (policy: a debug-off SEV-SNP VM)`,
      'keys leave the broker only for attestation tokens that satisfy their policy',
    );
    const audit = await session.auditContext();
    const vault = new AzureKeyVaultProvider({
      vaultUrl: b.broker.url,
      credential: staticToken(b.owner),
      clientOptions: sdkOptions(b.broker),
    });
    const prepared = await prepareDataset(example, join(dir, 'prepared'), {
      infer: { label: 'diagnosis' },
      seal: {
        recipients: [`azurekv://${host}/keys/data-key`],
        providers: [auditedProvider(vault, audit.sink, audit.actor)],
      },
      signingKey: await lineageSigner(session),
      audit,
    });
    const rows = prepared.report.split.rows;
    step(
      'prepare + seal',
      `examples/wdbc.csv: ${prepared.report.ingest.rowsKept} rows → ${rows.train} train, ${rows.validation} validation, ${rows.test} test; ${prepared.transform.outputs.length} features z-scored on the training split; sealed for data-key in ${join(dir, 'prepared')}`,
      'the prepared data went straight into AES-256-GCM: no plaintext file was written; lineage.json is signed',
    );
    const configPath = join(dir, 'train.json');
    const configValue = {
      model: {
        architecture: 'mlp',
        input_size: prepared.transform.outputs.length,
        hidden_size: 32,
        output_size: 2,
      },
      training: {
        batch_size: 32,
        learning_rate: 0.003,
        epochs: 30,
        seed: 1,
        early_stopping: { patience: 8 },
      },
      security: {
        key: `azurekv://${host}/keys/model-key`,
        attestation: true,
        tee: 'sim',
        broker: { ca: b.broker.caPath },
      },
      // The data owner's lineage key: the run trains only on the splits the owner signed.
      data: { dir: 'prepared', lineage_key: auditPaths(session.auditDir).pub },
      output: { dir: 'run', checkpoint_every_epochs: 10 },
    };
    await writeFile(configPath, `${JSON.stringify(configValue, null, 2)}\n`, { mode: 0o600 });
    const config = parseRunConfig(configValue, configPath);
    const brokerAccess = { credential: staticToken(b.workload), ca: b.broker.caCertificate };
    step(
      'refused release',
      await refusedRelease(b, brokerAccess.credential),
      'a policy written for hardware cannot be met by the simulation',
    );
    const inputs = await resolveInputs(config);
    const lineage = await openTrustedLineage(inputs, auditPaths(session.auditDir).pub);
    const sealedInputs = [inputs.train, inputs.validation, inputs.test].filter(
      (x): x is string => x !== undefined,
    );
    const keys = await openKeyAccess({
      inputs: sealedInputs,
      outputKey: config.security.key,
      releaseOutputKey: true,
      attestation: true,
      sim: { privateKey: b.sim.privateKey },
      broker: brokerAccess,
      audit,
    });
    let trained: Awaited<ReturnType<typeof runTraining>>;
    try {
      step(
        'attest + release',
        `SIMULATED evidence bound to a broker nonce and an ephemeral RSA key → token (x-ms-attestation-type ${keys.attestation?.type}) → released ${keys.released.map((k) => k.uri.split('/').pop()).join(', ')} into this process`,
        'the keys were released to this process only, for evidence that met the policy; they were never written',
      );
      trained = await runTraining(config, {
        keys,
        inputs,
        lineage,
        audit,
        auditDir: session.auditDir,
        tee: keys.attestation?.type ?? 'none',
        observer: new RunMonitor({ sampleIntervalMs: 250 }),
      });
      const m = trained.metrics;
      step(
        'train',
        `${trained.epochs} epochs${trained.stoppedEarly ? ' (stopped early)' : ''}, ${trained.checkpoints} sealed checkpoint(s); test accuracy ${(((m.test_accuracy ?? 0) as number) * 100).toFixed(1)} %`,
        'the data was decrypted into memory only, and each split matched the digest its owner signed in lineage.json; checkpoints and the model were sealed for model-key',
      );
      const model = await openSealedModel(join(trained.dir, 'model.sealed'), keys.providers);
      const test = await loadSplit(inputs.test ?? '', keys.providers);
      let e: ReturnType<typeof evaluateModel>;
      try {
        e = evaluateModel(model, test.dataset);
      } finally {
        test.wipe();
      }
      expectDemo(e.accuracy === m.test_accuracy, 'evaluate');
      step(
        'evaluate',
        `the sealed model opened in memory: test accuracy ${((e.accuracy ?? 0) * 100).toFixed(1)} % over ${e.rows} rows`,
        'the model is usable inside the TEE without ever being written in the clear',
      );
      step(
        'tamper check',
        await tamperCheck(join(trained.dir, 'model.sealed'), keys.providers),
        'sealed files are authenticated: any change is refused',
      );
    } finally {
      keys.close();
    }
    await b.broker.close();
    const ours = await verifyAuditLog(session.auditDir);
    const brokers = await verifyAuditLog(join(b.stateDir, 'audit'));
    expectDemo(ours.ok && brokers.ok, 'audit verify');
    step(
      'audit verify',
      `${ours.entries} entries in ${session.auditDir} and ${brokers.entries} in the broker's log: hash chains and signed heads intact`,
      'every key use, release (allowed and refused), checkpoint and the model are on a tamper-evident record',
    );
    // The report trusts only entries a signed head covers: sign the head now, as the end of any
    // command does.
    await (await session.audit()).close();
    const reportPath = join(trained.dir, 'report.html');
    const recorded = await readRecordedRun(trained.dir, {
      auditDir: session.auditDir,
      brokerAuditDir: join(b.stateDir, 'audit'),
    });
    const report = await buildRunReport(recorded, { home: session.home });
    await writeFileAtomic(reportPath, renderReportHtml(report, await reportCharts(recorded)), {
      overwrite: true,
    });
    expectDemo(report.verified, 'report');
    step(
      'report',
      `${reportPath} (open it in a browser): ${report.checks.filter((c) => c.status === 'ok').length} checks re-verified offline; releases ${report.releases.filter((r) => r.source === 'broker' && r.outcome === 'allowed').length} allowed and ${report.releases.filter((r) => r.outcome === 'denied').length} refused; charts of the run`,
      'an auditor can check the run from its files alone: the report says what it verified and how to repeat it',
    );
    return {
      demo: dir,
      tee: 'sim',
      warning: SIMULATION_WARNING,
      steps,
      run: trained.dir,
      model: trained.model,
      card: join(trained.dir, 'model-card.json'),
      report: reportPath,
      metrics: trained.metrics,
      config: configPath,
    };
  } finally {
    await b.broker.close().catch(() => {});
  }
}

async function refusedRelease(
  b: { broker: RunningBroker; sim: { privateKey: import('node:crypto').KeyObject } },
  credential: ReturnType<typeof staticToken>,
): Promise<string> {
  const agent = new Agent({ ca: b.broker.caCertificate });
  const workload = await attestWorkload({
    vaultUrl: b.broker.url,
    credential,
    agent,
    clientOptions: { agent, disableChallengeResourceVerification: true, retryOptions: { maxRetries: 0 } },
    sim: { privateKey: b.sim.privateKey },
  });
  try {
    const key = await workload.release('production-key');
    if (key.kty === 'oct') key.material.fill(0);
  } catch (error) {
    if (isSealtrainError(error, 'ERR_RELEASE_DENIED'))
      return `production-key was refused to the SIMULATED TEE (${error.code}); the broker's audit log records why`;
    throw error;
  } finally {
    await workload.close();
  }
  expectDemo(false, 'refused release');
  return '';
}

async function tamperCheck(
  sealed: string,
  providers: Parameters<typeof openSealedModel>[1],
): Promise<string> {
  const copy = `${sealed}.tampered`;
  await copyFile(sealed, copy);
  const bytes = await readFile(copy);
  const at = bytes.length - 20;
  bytes[at] = (bytes[at] ?? 0) ^ 1;
  await writeFile(copy, bytes);
  try {
    await openSealedModel(copy, providers);
  } catch (error) {
    if (isSealtrainError(error, 'ERR_SEAL_DECRYPT_FAILED'))
      return `a copy of model.sealed with one flipped bit was refused (${error.code})`;
    throw error;
  } finally {
    const { rm } = await import('node:fs/promises');
    await rm(copy, { force: true });
  }
  expectDemo(false, 'tamper check');
  return '';
}
