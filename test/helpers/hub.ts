// The integration-test harness: a real pi-hub process in a temporary data directory on free ports of
// 127.0.0.1, with helpers to add users, make API keys, issue user certificates and enroll devices.
// Every integration test reuses it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createCsr, generateKeyPair } from '../../shared/pki.js';
import type { IssuedCertificate } from '../../shared/schemas.js';
import { Daemon, HUB_CLI, type RunResult, run } from './process.js';

export interface Credentials {
  key: string;
  cert: string;
  ca: string;
  /** Hex serial of the certificate. */
  certSerial: string;
}

export interface UserCredentials extends Credentials { dir: string; name: string }
export interface DeviceCredentials extends Credentials { serial: string; userId: string }

export interface ApiResponse { status: number; body: unknown; headers: IncomingHttpHeaders; text: string; raw: Buffer }

export interface HubOptions {
  clientAuth?: 'none' | 'want' | 'need';
  env?: NodeJS.ProcessEnv;
  /** Reuse a data directory (a restart). */
  dataDir?: string;
  /** Fixed ports (a restart on the same ports). */
  port?: number;
  mqttsPort?: number;
  /** Written as <data-dir>/hub.json before the hub starts. */
  config?: Record<string, unknown>;
  /** `--cluster URL`: a hub node sharing its MQTT state through this Redis. */
  cluster?: string;
}

export class TestHub {
  daemon!: Daemon;
  port = 0;
  mqttsPort = 0;
  fingerprint = '';
  readonly users = new Map<string, string>();

  private constructor(readonly dataDir: string, readonly opts: HubOptions, private readonly ownsDir: boolean) {}

  static async start(opts: HubOptions = {}): Promise<TestHub> {
    const dir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'pifleet-hub-'));
    const hub = new TestHub(dir, opts, opts.dataDir === undefined);
    // Tests enroll many Pis from one address, and send stats as bulk traffic (slow readers, frames):
    // a generous enrollment rate and stats rate unless a test sets its own (fleet-limits.test.ts).
    if (!opts.dataDir || opts.config) writeFileSync(join(dir, 'hub.json'), JSON.stringify({ enrollBurst: 1000, statsPerMinute: 60_000, ...opts.config }));
    await hub.launch(opts.port ?? 0, opts.mqttsPort ?? 0);
    return hub;
  }

  private async launch(port: number, mqttsPort: number): Promise<void> {
    const args = ['serve', '--data-dir', this.dataDir, '--host', '127.0.0.1', '--port', String(port), '--mqtts-port', String(mqttsPort)];
    if (this.opts.clientAuth) args.push('--client-auth', this.opts.clientAuth);
    if (this.opts.cluster) args.push('--cluster', this.opts.cluster);
    this.daemon = Daemon.start(HUB_CLI, args, 'hub', this.opts.env);
    const m = await this.daemon.waitForLine(/listening https:\/\/127\.0\.0\.1:(\d+) mqtts:\/\/127\.0\.0\.1:(\d+).*fingerprint=([0-9A-F:]+)/, 30_000, 0);
    this.port = Number(m[1]);
    this.mqttsPort = Number(m[2]);
    this.fingerprint = m[3]!;
  }

  get httpsUrl(): string { return `https://127.0.0.1:${this.port}`; }
  get wssUrl(): string { return `wss://127.0.0.1:${this.port}/mqtt`; }
  get mqttsUrl(): string { return `mqtts://127.0.0.1:${this.mqttsPort}`; }
  get caPem(): string { return readFileSync(join(this.dataDir, 'ca', 'issuing.crt'), 'utf8') + readFileSync(join(this.dataDir, 'ca', 'root.crt'), 'utf8'); }

  /** Runs the pi-hub CLI on this hub's data directory. */
  cli(args: string[], opts: { stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
    return run(HUB_CLI, [...args, '--data-dir', this.dataDir], { ...opts, env: { ...this.opts.env, ...opts.env } });
  }

  private async cliOk(args: string[], opts: { stdin?: string } = {}): Promise<RunResult> {
    const r = await this.cli(args, opts);
    if (r.code !== 0) throw new Error(`pi-hub ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return r;
  }

  async addUser(name: string): Promise<string> {
    const r = await this.cliOk(['user', 'add', name, '--password-stdin'], { stdin: 'correct horse battery\n' });
    const id = /\(id (\d+)\)/.exec(r.stdout)![1]!;
    this.users.set(name, id);
    return id;
  }

  /** `pi-hub apikey create` (by default a key that may only enroll); `flags` such as ['--scope', 'read']. */
  async apiKey(user: string, flags: string[] = []): Promise<string> {
    return (await this.cliOk(['apikey', 'create', '--user', user, ...flags])).stdout.trim();
  }

  async userCert(user: string): Promise<UserCredentials> {
    const dir = join(this.dataDir, 'certs', `${user}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`);
    const r = await this.cliOk(['cert', 'issue', '--user', user, '--out', dir]);
    return {
      dir, name: user,
      key: readFileSync(join(dir, `${user}.key`), 'utf8'),
      cert: readFileSync(join(dir, `${user}.crt`), 'utf8'),
      ca: readFileSync(join(dir, 'ca.crt'), 'utf8'),
      certSerial: /certificate ([0-9a-f]+)/.exec(r.stdout)![1]!,
    };
  }

  /** Enrolls a device the way pi-agent does: a key made here, a CSR, POST /api/v1/enroll. */
  async enrollDevice(apiKey: string, serial: string): Promise<DeviceCredentials> {
    const kp = await generateKeyPair();
    const res = await this.request('POST', '/api/v1/enroll', { serial, csr: await createCsr(serial, kp.keys) }, { authorization: `Bearer ${apiKey}` });
    if (res.status !== 201) throw new Error(`enroll ${serial}: ${res.status} ${JSON.stringify(res.body)}`);
    const body = res.body as IssuedCertificate;
    const { X509Certificate } = await import('node:crypto');
    return {
      serial, userId: body.userId, key: kp.privateKeyPem, cert: body.certificate, ca: body.chain,
      certSerial: new X509Certificate(body.certificate).serialNumber.toLowerCase(),
    };
  }

  /**
   * An HTTPS request to the hub's API, verifying the hub against its CA, optionally with a client
   * certificate: the status, the body parsed (as `text` if it is not JSON), the headers and the raw text.
   */
  request(
    method: string, path: string, body?: unknown, headers: Record<string, string> = {}, client?: { key: string; cert: string },
    opts: { localAddress?: string } = {},
  ): Promise<ApiResponse> {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const req = https.request(`${this.httpsUrl}${path}`, {
        method, ca: this.caPem, servername: 'localhost', key: client?.key, cert: client?.cert, localAddress: opts.localAddress,
        agent: opts.localAddress ? false : undefined,
        headers: { ...headers, ...(data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}) },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          const text = raw.toString('utf8');
          let parsed: unknown = text;
          try { parsed = JSON.parse(text); } catch { /* not JSON */ }
          resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers, text, raw });
        });
      });
      req.on('error', reject);
      req.end(data);
    });
  }

  /** Changes the hub's database behind its back (what a test cannot do through the hub: a key's expiry in the past). */
  write(sql: string, ...params: unknown[]): void {
    const db = new Database(join(this.dataDir, 'hub.db'));
    try {
      db.prepare(sql).run(...params);
    } finally {
      db.close();
    }
  }

  /** Reads the hub's database the way an operator would: read-only, while the hub runs. */
  query<T = Record<string, unknown>>(sql: string, ...params: unknown[]): T[] {
    return queryDataDir<T>(this.dataDir, sql, ...params);
  }

  /** Stops the hub (SIGTERM) and starts it again on the same ports and data directory. */
  async restart(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.daemon.stop(signal);
    await this.launch(this.port, this.mqttsPort);
  }

  async stop(): Promise<void> {
    await this.daemon.stop();
    if (this.ownsDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Reads the database of a data directory, read-only: also one no hub runs on (the CLI's). */
export function queryDataDir<T = Record<string, unknown>>(dataDir: string, sql: string, ...params: unknown[]): T[] {
  const db = new Database(join(dataDir, 'hub.db'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}
