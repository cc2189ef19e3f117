// What every contender and the agent measurement share: one pi-hub data directory (its CA issues all
// the certificates), a user "bench" with a certificate, and devices enrolled the way pi-agent enrolls.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCsr, generateKeyPair } from '../shared/pki.js';
import { IssuedCertificateSchema } from '../shared/schemas.js';
import { HUB_CLI, runOk, startHub } from './harness.js';
import type { Device, Job } from './workloads.js';

export interface Fixture {
  dataDir: string;
  caPem: string;
  serverCert: string;
  serverKey: string;
  user: Job['user'];
  devices: Device[];
}

/** POST a JSON body to the hub's API, verifying the hub against its CA: the status and the text. */
function post(port: number, ca: string, path: string, body: unknown, apiKey: string): Promise<{ status: number; text: string }> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(`https://127.0.0.1:${port}${path}`, {
      method: 'POST', ca, servername: 'localhost',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
    }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** A device enrolled as pi-agent does it: a key made here, a CSR, POST /api/v1/enroll. */
async function enroll(port: number, ca: string, apiKey: string, serial: string): Promise<Device> {
  const kp = await generateKeyPair();
  const res = await post(port, ca, '/api/v1/enroll', { serial, csr: await createCsr(serial, kp.keys) }, apiKey);
  let body: unknown = null;
  try { body = JSON.parse(res.text); } catch { /* reported below */ }
  const issued = IssuedCertificateSchema.safeParse(body);
  if (res.status !== 201 || !issued.success) throw new Error(`enroll ${serial}: ${res.status} ${res.text}`);
  return { serial, key: kp.privateKeyPem, cert: issued.data.certificate };
}

/**
 * A pi-hub data directory with a CA, a user "bench" with a certificate, and `devices` devices
 * enrolled through the API. The setup hub is stopped after.
 */
export async function prepareFixture(devices: number): Promise<Fixture> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pifleet-bench-hub-'));
  try {
    const hub = await startHub(dataDir);
    try {
      return await setUp(dataDir, hub.port, devices);
    } finally {
      await hub.daemon.stop();
    }
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

async function setUp(dataDir: string, port: number, devices: number): Promise<Fixture> {
  const hubCli = (args: string[], stdin?: string) => runOk(HUB_CLI, [...args, '--data-dir', dataDir], { stdin });
  await hubCli(['user', 'add', 'bench', '--password-stdin'], 'correct horse battery\n');
  const apiKey = (await hubCli(['apikey', 'create', '--user', 'bench'])).trim();
  const certDir = join(dataDir, 'bench-user');
  await hubCli(['cert', 'issue', '--user', 'bench', '--out', certDir]);
  const caPem = readFileSync(join(dataDir, 'ca', 'issuing.crt'), 'utf8') + readFileSync(join(dataDir, 'ca', 'root.crt'), 'utf8');
  const enrolled: Device[] = [];
  for (let i = 0; i < devices; i++) enrolled.push(await enroll(port, caPem, apiKey, `bench-pi-${String(i).padStart(2, '0')}`));
  return {
    dataDir,
    caPem,
    serverCert: join(dataDir, 'tls', 'server.crt'),
    serverKey: join(dataDir, 'tls', 'server.key'),
    user: { key: readFileSync(join(certDir, 'bench.key'), 'utf8'), cert: readFileSync(join(certDir, 'bench.crt'), 'utf8') },
    devices: enrolled,
  };
}

export function removeFixture(f: Fixture): void {
  rmSync(f.dataDir, { recursive: true, force: true });
}
