// The confidential overhead: one epoch of Fashion-MNIST (MLP 784-512-10, Adam 1e-3, batch 128) in
// plaintext beside the same epoch through the full secure path, measured in this run:
//   train only: read the prepared tensor file, train one epoch (the engine's bare cost)
//   plaintext job (the anchor): the same, plus metrics and an unencrypted checkpoint and model
//   written atomically
//   secure job: check the data owner's signed lineage manifest, attest to a broker over TLS on
//   loopback (simulated evidence: a hardware report fetch costs more, and is a one-off per run),
//   release the data key and load the model key's public part, decrypt the sealed tensor file in
//   memory (checked as stored against the lineage's digest), train the same epoch, write metrics,
//   seal a checkpoint and the model, write the model card, audit every step. As `sealtrain train`
//   does, the attestation's ephemeral key is started when the job starts.
//   The secure job runs twice: with the broker in this process (its CPU counts against the job),
//   and with the broker in a process of its own (bench/confidential-broker.mjs), as in a
//   deployment where the broker is Key Vault.
// Both paths start from files on disk and end with trained weights; each job starts once what the
// job before it left in this process is collected (outside both timings); each figure is the median of
// REPS alternating rounds, with the spread (min–max) beside it; the overhead is also given as the
// median of the per-round ratios, with a distribution-free interval for that median (95 % or
// more from six rounds on; its coverage is given). `--json`: the last stdout line is
// one object with every figure.
import { spawn } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import vm from 'node:vm';
import { KeyClient } from '@azure/keyvault-keys';
import { loadOrCreateSimKey, SIM_KEY_PATH } from '../dist/attest/index.js';
import { AuditLog, auditPaths } from '../dist/audit/index.js';
import { prepareRuntimeKey } from '../dist/broker/client/runtime-key.js';
import { addPrincipal, BrokerStore, startBroker } from '../dist/broker/index.js';
import { FASHION_MNIST_DIR, loadLineageSigningKey, prepareDataset } from '../dist/data/index.js';
import { AzureKeyVaultProvider } from '../dist/kms/index.js';
import {
  openKeyAccess,
  openTrustedLineage,
  PHASE_MARK_PREFIX,
  parseRunConfig,
  RUN_PHASES,
  resolveInputs,
  runTraining,
} from '../dist/run/index.js';
import { bundle } from '../scripts/bundle-cli.mjs';
import { plainJob } from './lib/plain-job.mjs';

const json = process.argv.includes('--json');
const REPS = Number(process.env.BENCH_REPS ?? 5);
// `--epochs N`: the fixed costs (attestation, release, decryption) spread over N epochs.
const at = process.argv.indexOf('--epochs');
const EPOCHS = at > 0 ? Number(process.argv[at + 1]) : 1;
const PLAIN_JOB = fileURLToPath(new URL('./lib/plain-job.mjs', import.meta.url));
// As a process, the plaintext job runs bundled as `sealtrain` is (scripts/bundle-cli.mjs): the
// comparison is then of what the jobs do, not of how many module files Node loads to start them.
// The bundle lies inside the package, where the training addon is found from it.
const PLAIN_BUNDLE = fileURLToPath(new URL(`../.bench-tmp/plain-job-${process.pid}/`, import.meta.url));
const SEALTRAIN = fileURLToPath(new URL('../bin/sealtrain.js', import.meta.url));
const log = (s) => process.stderr.write(`${s}\n`);
const token = (t) => ({ getToken: async () => ({ token: t, expiresOnTimestamp: Date.now() + 3_600_000 }) });

/** The broker in a process of its own; `stop` ends it. */
function startChildBroker(simPublicKeyPem) {
  const file = fileURLToPath(new URL('./confidential-broker.mjs', import.meta.url));
  const child = spawn(process.execPath, [file, simPublicKeyPem], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve({ setup: JSON.parse(out.slice(0, nl)), stop: () => child.kill('SIGTERM') });
    });
    child.on('exit', (code) => reject(new Error(`the broker process exited with ${code}`)));
  });
}

const dir = await mkdtemp(join(tmpdir(), 'sealtrain-bench-confidential-'));
let child;
try {
  const home = join(dir, 'home');
  const sim = await loadOrCreateSimKey(home);
  const pass = Buffer.from('bench-broker-passphrase');
  const stateDir = join(dir, 'broker');
  const broker = await startBroker({
    stateDir,
    passphrase: pass,
    scryptCost: 1 << 14,
    allowSimulated: true,
    simPublicKey: createPublicKey(sim.privateKey),
    log: () => {},
  });
  const store = await BrokerStore.open(stateDir, pass, { mustExist: true });
  const owner = (await addPrincipal(store, { name: 'owner', role: 'owner' })).token;
  const workload = (await addPrincipal(store, { name: 'trainer', role: 'workload' })).token;
  store.close();
  const policy = {
    version: '1.0.0',
    anyOf: [{ authority: broker.url, allOf: [{ claim: 'x-ms-attestation-type', equals: 'sim' }] }],
  };
  const options = (ca) => ({
    agent: new Agent({ ca }),
    disableChallengeResourceVerification: true,
    retryOptions: { maxRetries: 0 },
  });
  const keys = new KeyClient(broker.url, token(owner), options(broker.caCertificate));
  for (const name of ['data-key', 'model-key'])
    await keys.createKey(name, 'RSA', {
      keySize: 3072,
      exportable: true,
      releasePolicy: { encodedPolicy: Buffer.from(JSON.stringify(policy)) },
    });
  child = await startChildBroker(createPublicKey(sim.privateKey).export({ type: 'spki', format: 'pem' }));
  const brokers = {
    local: { url: broker.url, ca: broker.caCertificate, owner, workload, data: join(dir, 'sealed') },
    child: { ...child.setup, data: join(dir, 'sealed-child') },
  };
  const images = join(FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz');
  const common = {
    read: { labels: join(FASHION_MNIST_DIR, 'train-labels-idx1-ubyte.gz') },
    infer: { label: 'label' },
    fractions: { train: 1, validation: 0, test: 0 },
    signingKey: await loadLineageSigningKey(home),
  };
  log('preparing Fashion-MNIST train (60,000) plain and sealed (for each broker)…');
  await prepareDataset(images, join(dir, 'plain'), common);
  for (const b of Object.values(brokers)) {
    const vault = new AzureKeyVaultProvider({
      vaultUrl: b.url,
      credential: token(b.owner),
      clientOptions: options(b.ca),
    });
    await prepareDataset(images, b.data, {
      ...common,
      seal: { recipients: [`azurekv://${new URL(b.url).host}/keys/data-key`], providers: [vault] },
    });
  }

  // The secure jobs check their data against the owner's signed lineage (data.lineage_key), as a
  // deployment that takes data from someone else does.
  const lineageKey = auditPaths(join(home, 'audit')).pub;
  const model = { architecture: 'mlp', input_size: 784, hidden_size: 512, output_size: 10 };
  const training = { batch_size: 128, learning_rate: 0.001, epochs: EPOCHS, seed: 1 };
  const audit = await AuditLog.open(join(home, 'audit'));

  // The same job without security (bench/lib/plain-job.mjs); `trainOnly`: the engine's bare epochs.
  let p = 0;
  const plainOptions = (trainOnly) => ({
    data: join(dir, 'plain'),
    out: join(dir, 'plain-runs', String(p++)),
    model,
    training,
    trainOnly,
  });
  const plaintext = (trainOnly = false) => plainJob(plainOptions(trainOnly));

  // Both jobs as whole processes, as a user starts them: the plaintext job (bundled, see
  // PLAIN_BUNDLE) beside `sealtrain train --config …` (module loading, the config, the run folder
  // and the exit count).
  const timed = (args) =>
    new Promise((resolve, reject) => {
      const started = process.hrtime.bigint();
      const c = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      c.stderr.on('data', (d) => {
        err += d;
      });
      c.on('exit', (code) => {
        if (code !== 0) reject(new Error(`${args.join(' ')} exited with ${code}: ${err}`));
        else resolve(Number(process.hrtime.bigint() - started) / 1e9);
      });
    });
  await bundle(PLAIN_JOB, PLAIN_BUNDLE, 'plain-job');
  const plainProcess = () => timed([join(PLAIN_BUNDLE, 'plain-job.js'), JSON.stringify(plainOptions(false))]);
  // The CLI runs keep an audit log of their own, with the same simulated TEE's key.
  const cliHome = join(dir, 'cli-home');
  await mkdir(join(cliHome, 'attest'), { recursive: true, mode: 0o700 });
  await copyFile(join(home, SIM_KEY_PATH), join(cliHome, SIM_KEY_PATH));
  await writeFile(join(dir, 'ca.pem'), brokers.local.ca);
  await writeFile(join(dir, 'trainer.token'), brokers.local.workload, { mode: 0o600 });
  let q = 0;
  async function secureProcess() {
    const config = {
      model,
      training,
      security: {
        key: `azurekv://${new URL(brokers.local.url).host}/keys/model-key`,
        tee: 'sim',
        broker: { ca: 'ca.pem', token_file: 'trainer.token' },
      },
      data: { dir: brokers.local.data, lineage_key: lineageKey },
      output: { dir: join(dir, 'cli-runs', String(q++)), checkpoint_every_epochs: EPOCHS },
    };
    const file = join(dir, `cli-${q}.json`);
    await writeFile(file, JSON.stringify(config));
    return timed([SEALTRAIN, '--home', cliHome, 'train', '--config', file, '--json']);
  }

  let n = 0;
  const release = { local: [], child: [] };
  async function secure(which) {
    const b = brokers[which];
    const host = new URL(b.url).host;
    const out = join(dir, 'runs', String(n++));
    const started = process.hrtime.bigint();
    // As `sealtrain train` does when the config asks for attestation, before anything else.
    prepareRuntimeKey();
    const c = parseRunConfig(
      {
        model,
        training,
        security: { key: `azurekv://${host}/keys/model-key`, tee: 'sim' },
        data: { dir: b.data, lineage_key: lineageKey },
        output: { dir: out, checkpoint_every_epochs: EPOCHS },
      },
      join(dir, 's.json'),
    );
    const inputs = await resolveInputs(c);
    // As the CLI does: data its owner did not sign is refused before any key is released.
    const lineage = await openTrustedLineage(inputs, lineageKey);
    const releaseStart = process.hrtime.bigint();
    // As the CLI does: the attestation starts while the inputs' headers are read, the sealed input
    // is read from disk while the release is under way, and decrypted once its key is there.
    const access = openKeyAccess({
      inputs: [inputs.train],
      outputKey: c.security.key,
      attestation: true,
      sim: { privateKey: sim.privateKey },
      broker: { credential: token(b.workload), ca: b.ca },
      audit: { sink: audit, actor: 'bench' },
    });
    access.then(() => release[which].push(Number(process.hrtime.bigint() - releaseStart) / 1e9));
    try {
      const r = await runTraining(c, {
        keys: access,
        inputs,
        lineage,
        audit: { sink: audit, actor: 'bench' },
        auditDir: join(home, 'audit'),
      });
      if (r.checkpoints !== 1 || !r.model)
        throw new Error('the secure run did not seal a checkpoint and a model');
    } finally {
      (await access).close();
    }
    return Number(process.hrtime.bigint() - started) / 1e9;
  }

  // Each job starts from the same state of this process: what the job before it left (a 188 MB
  // buffer among it) is collected and freed first, outside both timings. Without this, the job
  // that came next paid for the last one's garbage: the in-process secure job, which follows the
  // plaintext job, stalled 19 to 36 ms at its start in 9 rounds of 20 (none in 10 with it).
  // A process of its own starts clean anyway; its turn is settled the same way.
  // bench/run.js starts this with --expose-gc; run directly, it asks V8 for the same.
  const collect =
    globalThis.gc ??
    (() => {
      setFlagsFromString('--expose-gc');
      return vm.runInNewContext('gc');
    })();
  // Where each in-process job's time goes: the phases `sealtrain train` marks on the performance
  // timeline (src/run/phase-marks.ts), which the plaintext job marks too (all but `keys`), each as
  // milliseconds from its job's start. The observer is told a turn after a mark: one turn is let
  // pass after each job before its marks are read.
  // The garbage collections V8 reports are kept too, to tell how much of each stretch they took.
  const marks = [];
  const collections = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      if (e.entryType === 'gc') collections.push({ at: e.startTime, ms: e.duration });
      else if (e.name.startsWith(PHASE_MARK_PREFIX))
        marks.push({ phase: e.name.slice(PHASE_MARK_PREFIX.length), at: e.startTime });
  });
  observer.observe({ entryTypes: ['mark', 'gc'] });
  const phases = { plain: [], secure: [], child: [] };
  const settled = async (job, phasesOf) => {
    collect();
    await new Promise((resolve) => setTimeout(resolve, 50));
    marks.length = 0;
    collections.length = 0;
    const start = performance.now();
    const seconds = await job();
    if (phasesOf) {
      await new Promise((resolve) => setImmediate(resolve));
      const at = {};
      for (const m of marks) at[m.phase] = m.at - start; // the last of each (epochs, checkpoints)
      const within = (from, to) =>
        collections
          .filter((c) => c.at - start >= from && c.at - start < to)
          .reduce((sum, c) => sum + c.ms, 0);
      at.collections = {
        start_ms: within(0, at.train),
        training_ms: within(at.train, at.epoch),
        end_ms: within(at.epoch, at.end),
      };
      phasesOf.push(at);
    }
    return seconds;
  };
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    const m = Math.floor(s.length / 2);
    return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
  };
  const r3 = (x) => Number(x.toFixed(3));
  const spread = (xs) => [r3(Math.min(...xs)), r3(Math.max(...xs))];
  await plaintext(); // warm the page cache and the kernels once, for all
  await plainProcess(); // load the modules from disk once, for both
  const runs = { bare: [], plain: [], secure: [], child: [], plainProcess: [], secureProcess: [] };
  for (let i = 0; i < REPS; i++) {
    runs.bare.push(await settled(() => plaintext(true)));
    runs.plain.push(await settled(() => plaintext(), phases.plain));
    runs.secure.push(await settled(() => secure('local'), phases.secure));
    runs.child.push(await settled(() => secure('child'), phases.child));
    runs.plainProcess.push(await settled(plainProcess));
    runs.secureProcess.push(await settled(secureProcess));
    log(
      `run ${i + 1}/${REPS}: train only ${runs.bare.at(-1).toFixed(3)} s, plaintext job ${runs.plain.at(-1).toFixed(3)} s, secure job ${runs.secure.at(-1).toFixed(3)} s (broker in another process ${runs.child.at(-1).toFixed(3)} s); as processes: plaintext ${runs.plainProcess.at(-1).toFixed(3)} s, sealtrain train ${runs.secureProcess.at(-1).toFixed(3)} s`,
    );
  }
  observer.disconnect();
  await audit.close();
  await broker.close();
  const figures = {
    train_only_epoch_s: r3(median(runs.bare)),
    plaintext_epoch_s: r3(median(runs.plain)),
    secure_epoch_s: r3(median(runs.secure)),
    secure_separate_broker_epoch_s: r3(median(runs.child)),
    train_only_runs_s: runs.bare.map(r3),
    plaintext_runs_s: runs.plain.map(r3),
    secure_runs_s: runs.secure.map(r3),
    secure_separate_broker_runs_s: runs.child.map(r3),
    plaintext_process_s: r3(median(runs.plainProcess)),
    sealtrain_train_process_s: r3(median(runs.secureProcess)),
    plaintext_process_runs_s: runs.plainProcess.map(r3),
    sealtrain_train_process_runs_s: runs.secureProcess.map(r3),
    spread_s: {
      train_only: spread(runs.bare),
      plaintext: spread(runs.plain),
      secure: spread(runs.secure),
      secure_separate_broker: spread(runs.child),
      plaintext_process: spread(runs.plainProcess),
      sealtrain_train_process: spread(runs.secureProcess),
    },
    attest_and_release_s: r3(median(release.local)),
    attest_and_release_separate_broker_s: r3(median(release.child)),
  };
  const percent = (x) => Number(((x / figures.plaintext_epoch_s - 1) * 100).toFixed(1));
  // Each secure run against the plaintext run of its own round: a burst of load on the machine
  // tends to hit both, so the median of these moves less than the ratio of the medians.
  const perRound = (xs, anchor) => xs.map((x, i) => x / anchor[i] - 1);
  const paired = (xs, anchor = runs.plain) => Number((median(perRound(xs, anchor)) * 100).toFixed(1));
  // How far that median can be trusted on a noisy machine: the distribution-free interval for a
  // median, [d(k), d(n+1−k)] of the n sorted per-round ratios, with the largest k whose coverage
  // 1 − 2·P(Binomial(n, ½) ≤ k − 1) is at least 95 %. Fewer than six rounds cannot reach 95 %:
  // the interval is then all of them, and its coverage says so.
  const pairedInterval = (xs, anchor = runs.plain) => {
    const d = perRound(xs, anchor).sort((p, q) => p - q);
    const n = d.length;
    const choose = (k) => {
      let c = 1;
      for (let i = 0; i < k; i++) c = (c * (n - i)) / (i + 1);
      return c;
    };
    const below = (k) =>
      Array.from({ length: k + 1 }, (_, i) => choose(i)).reduce((a, b) => a + b, 0) / 2 ** n;
    const coverage = (k) => 1 - 2 * below(k - 1);
    let k = 1;
    while (k + 1 <= Math.floor((n + 1) / 2) && coverage(k + 1) >= 0.95) k++;
    const pct = (x) => Number((x * 100).toFixed(1));
    return { low: pct(d[k - 1]), high: pct(d[n - k]), coverage: Number(coverage(k).toFixed(3)) };
  };
  const interval = {
    local: pairedInterval(runs.secure),
    child: pairedInterval(runs.child),
    process: pairedInterval(runs.secureProcess, runs.plainProcess),
  };
  const intervalText = (i) => `interval ${i.low} to ${i.high} %, coverage ${(i.coverage * 100).toFixed(1)} %`;
  const processPercent = Number(
    ((figures.sealtrain_train_process_s / figures.plaintext_process_s - 1) * 100).toFixed(1),
  );
  // Per job, the median time of each phase from its start (the last epoch's and checkpoint's);
  // per round, the secure job's start of training, its training (first step to last) and its end
  // (last step to result) against the plaintext job's.
  const r1 = (x) => Number(x.toFixed(1));
  const phaseMedians = (list) =>
    Object.fromEntries(
      RUN_PHASES.filter((p) => list.every((at) => at[p] !== undefined)).map((p) => [
        p,
        r1(median(list.map((at) => at[p]))),
      ]),
    );
  const stretch = {
    start_ms: (at) => at.train,
    training_ms: (at) => at.epoch - at.train,
    end_ms: (at) => at.end - at.epoch,
  };
  const pairedPhases = (list) =>
    Object.fromEntries(
      Object.entries(stretch).map(([k, f]) => [
        k,
        r1(median(list.map((at, i) => f(at) - f(phases.plain[i])))),
      ]),
    );
  const jobs = { plaintext: phases.plain, secure: phases.secure, secure_separate_broker: phases.child };
  const eachJob = (f) => Object.fromEntries(Object.entries(jobs).map(([name, list]) => [name, f(list)]));
  const phaseFigures = {
    ...eachJob(phaseMedians),
    secure_minus_plaintext: pairedPhases(phases.secure),
    secure_separate_broker_minus_plaintext: pairedPhases(phases.child),
    collections_ms: eachJob((list) =>
      Object.fromEntries(
        Object.keys(stretch).map((k) => [k, r1(median(list.map((at) => at.collections[k])))]),
      ),
    ),
  };
  const result = {
    bench: 'confidential',
    epochs: EPOCHS,
    ...figures,
    anchor:
      'the same one-epoch job in plaintext (plain data in, metrics, an unencrypted checkpoint and model out), same run',
    overhead_percent: percent(figures.secure_epoch_s),
    overhead_separate_broker_percent: percent(figures.secure_separate_broker_epoch_s),
    paired_overhead_percent: paired(runs.secure),
    paired_overhead_separate_broker_percent: paired(runs.child),
    overhead_process_percent: processPercent,
    paired_overhead_process_percent: paired(runs.secureProcess, runs.plainProcess),
    paired_overhead_interval_percent: interval.local,
    paired_overhead_separate_broker_interval_percent: interval.child,
    paired_overhead_process_interval_percent: interval.process,
    process_anchor:
      'node bench/lib/plain-job.mjs, bundled as sealtrain is (the plaintext job as a process of its own), same run',
    target_percent: 3,
    phases_ms: phaseFigures,
    ratios: {
      vs_plaintext: r3(figures.secure_epoch_s / figures.plaintext_epoch_s),
      vs_train_only: r3(figures.secure_epoch_s / figures.train_only_epoch_s),
      separate_broker_vs_plaintext: r3(figures.secure_separate_broker_epoch_s / figures.plaintext_epoch_s),
      process_vs_plaintext_process: r3(figures.sealtrain_train_process_s / figures.plaintext_process_s),
    },
  };
  const s = figures.spread_s;
  log(
    `\ntrain only ${figures.train_only_epoch_s} s (${s.train_only.join('–')}) | plaintext job ${figures.plaintext_epoch_s} s (${s.plaintext.join('–')}) | secure job ${figures.secure_epoch_s} s (${s.secure.join('–')}; attest + release ${figures.attest_and_release_s} s) | overhead ${result.overhead_percent} %, per round ${result.paired_overhead_percent} % (${intervalText(interval.local)}) (target ≤ 3 %)`,
  );
  log(
    `broker in another process: secure job ${figures.secure_separate_broker_epoch_s} s (${s.secure_separate_broker.join('–')}; attest + release ${figures.attest_and_release_separate_broker_s} s) | overhead ${result.overhead_separate_broker_percent} %, per round ${result.paired_overhead_separate_broker_percent} % (${intervalText(interval.child)})`,
  );
  log(
    `as processes: plaintext job ${figures.plaintext_process_s} s (${s.plaintext_process.join('–')}) | sealtrain train ${figures.sealtrain_train_process_s} s (${s.sealtrain_train_process.join('–')}) | overhead ${result.overhead_process_percent} %, per round ${result.paired_overhead_process_percent} % (${intervalText(interval.process)})`,
  );
  const phaseText = (m) =>
    Object.entries(m)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  const signed = (ms) => `${ms >= 0 ? '+' : ''}${ms} ms`;
  const pairText = (m) =>
    `training starts ${signed(m.start_ms)}, training ${signed(m.training_ms)}, the end (last step to result) ${signed(m.end_ms)}`;
  log(
    `phases, ms from each job's start (medians): plaintext job: ${phaseText(phaseFigures.plaintext)} | secure job: ${phaseText(phaseFigures.secure)} | broker apart: ${phaseText(phaseFigures.secure_separate_broker)}`,
  );
  log(
    `secure job against the plaintext job of its round (medians): ${pairText(phaseFigures.secure_minus_plaintext)}; broker apart: ${pairText(phaseFigures.secure_separate_broker_minus_plaintext)}`,
  );
  const c = phaseFigures.collections_ms;
  log(
    `garbage collection inside each stretch, ms (medians; start, training, end): plaintext job ${Object.values(c.plaintext).join(' / ')} | secure job ${Object.values(c.secure).join(' / ')} | broker apart ${Object.values(c.secure_separate_broker).join(' / ')}`,
  );
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  child?.stop();
  await rm(dir, { recursive: true, force: true });
  await rm(PLAIN_BUNDLE, { recursive: true, force: true });
}
