// `npm run bench -- release [--json]`: key release latency (p50/p99, one client) and throughput
// (32 concurrent clients) against a broker in another process on loopback over TLS, beside the raw
// cost of the cryptography one release needs, measured in the same run with node:crypto (OpenSSL):
// RS256 verify of the attestation token, RSA-OAEP encrypt to the runtime key, AES key wrap with
// padding, RS256 sign of the answer; and the workload's RSA-OAEP unwrap.
import { spawn } from 'node:child_process';
import {
  constants,
  createCipheriv,
  generateKeyPairSync,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { Agent, request } from 'node:https';
import { fileURLToPath } from 'node:url';

const json = process.argv.includes('--json');
const SEQUENTIAL = 400;
const CONCURRENT = 3000;
const CLIENTS = 32;
const say = (s) => {
  if (!json) process.stderr.write(`${s}\n`);
};

function perOp(fn, n) {
  for (let i = 0; i < Math.min(50, n); i++) fn();
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t) / 1e6 / n;
}

function anchors() {
  const signer = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const runtime = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const payload = randomBytes(1200);
  const sig = sign('sha256', payload, signer.privateKey);
  const aes = randomBytes(32);
  const oaep = { key: runtime.publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' };
  const wrapped = publicEncrypt(oaep, aes);
  const kwp = () => {
    const c = createCipheriv('id-aes256-wrap-pad', aes, Buffer.from('a65959a6', 'hex'));
    return Buffer.concat([c.update(randomBytes(32)), c.final()]);
  };
  const ms = {
    rs256_verify_ms: perOp(() => verify('sha256', payload, signer.publicKey, sig), 2000),
    rsa_oaep_encrypt_ms: perOp(() => publicEncrypt(oaep, aes), 2000),
    aes_kwp_wrap_ms: perOp(kwp, 20000),
    rs256_sign_ms: perOp(() => sign('sha256', payload, signer.privateKey), 500),
    rsa_oaep_unwrap_ms: perOp(() => privateDecrypt({ ...oaep, key: runtime.privateKey }, wrapped), 500),
  };
  return {
    ...ms,
    raw_release_crypto_ms:
      ms.rs256_verify_ms + ms.rsa_oaep_encrypt_ms + ms.aes_kwp_wrap_ms + ms.rs256_sign_ms,
  };
}

function startChild() {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./release-broker.mjs', import.meta.url))], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve({ child, setup: JSON.parse(out.slice(0, nl)) });
    });
    child.on('exit', (code) => reject(new Error(`broker exited ${code}`)));
  });
}

function releaseOnce(setup, agent) {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    const req = request(
      `${setup.url}/keys/bench-key/release?api-version=7.4`,
      {
        method: 'POST',
        agent,
        headers: { authorization: `Bearer ${setup.workload}`, 'content-type': 'application/json' },
      },
      (res) => {
        let n = 0;
        res.on('data', (c) => {
          n += c.length;
        });
        res.on('end', () =>
          res.statusCode === 200 && n > 0
            ? resolve(Number(process.hrtime.bigint() - t) / 1e6)
            : reject(new Error(`status ${res.statusCode}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ target: setup.token }));
  });
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

const a = anchors();
say(
  `raw crypto per release: ${a.raw_release_crypto_ms.toFixed(3)} ms (verify ${a.rs256_verify_ms.toFixed(3)}, OAEP ${a.rsa_oaep_encrypt_ms.toFixed(3)}, KWP ${a.aes_kwp_wrap_ms.toFixed(4)}, sign ${a.rs256_sign_ms.toFixed(3)}); workload unwrap ${a.rsa_oaep_unwrap_ms.toFixed(3)} ms`,
);
const { child, setup } = await startChild();
try {
  const agent = new Agent({ ca: setup.ca, keepAlive: true, maxSockets: CLIENTS });
  for (let i = 0; i < 50; i++) await releaseOnce(setup, agent);
  const lat = [];
  for (let i = 0; i < SEQUENTIAL; i++) lat.push(await releaseOnce(setup, agent));
  lat.sort((x, y) => x - y);
  let next = 0;
  const t = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next++ < CONCURRENT) await releaseOnce(setup, agent);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  const figures = {
    release_p50_ms: pct(lat, 50),
    release_p99_ms: pct(lat, 99),
    releases_per_second_32_clients: CONCURRENT / seconds,
  };
  const ratios = {
    p50_vs_raw_crypto: figures.release_p50_ms / a.raw_release_crypto_ms,
    p99_vs_raw_crypto: figures.release_p99_ms / a.raw_release_crypto_ms,
    throughput_vs_target_500: figures.releases_per_second_32_clients / 500,
  };
  say(
    `release p50 ${figures.release_p50_ms.toFixed(2)} ms, p99 ${figures.release_p99_ms.toFixed(2)} ms (${ratios.p99_vs_raw_crypto.toFixed(2)}× raw crypto; target ≤ 2×)`,
  );
  say(
    `${figures.releases_per_second_32_clients.toFixed(0)} releases/s with ${CLIENTS} clients (target ≥ 500)`,
  );
  if (json)
    process.stdout.write(
      `${JSON.stringify({ ...figures, anchors: a, ratios, sequential: SEQUENTIAL, concurrent: CONCURRENT, clients: CLIENTS })}\n`,
    );
  agent.destroy();
} finally {
  child.kill('SIGTERM');
}
