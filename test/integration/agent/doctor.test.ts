// The built-in checks against real files, a real TLS listener and fake sensor programs.
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { Doctor, type DoctorOptions } from '../../../agent/doctor/doctor.js';
import type { LoadedCheck, LoadedModule } from '../../../agent/modules/loader.js';
import { CheckSchema, type BuiltinCheckDef } from '../../../agent/modules/schema.js';
import { resolveUser } from '../../../agent/users.js';
import { generateKeyPair, SIGN_ALG, x509 } from '../../../shared/pki.js';
import { DoctorReportSchema, type CheckResult } from '../../../shared/schemas.js';

const DAY = 86_400_000;
const dir = mkdtempSync(join(tmpdir(), 'pifleet-doctor-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function selfSigned(days: number): Promise<{ cert: string; key: string }> {
  const kp = await generateKeyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Date.now().toString(16), name: 'CN=127.0.0.1',
    notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + days * DAY),
    keys: kp.keys, signingAlgorithm: SIGN_ALG,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }])],
  });
  return { cert: cert.toString('pem'), key: kp.privateKeyPem };
}

function moduleOf(...checks: LoadedCheck[]): LoadedModule {
  return { file: 'd.json', sha256: '0'.repeat(64), id: 'd', title: 'D', kind: 'doctor', commands: new Map(), checks, pins: new Map() };
}
function builtin(def: Record<string, unknown>): LoadedCheck {
  const spec = CheckSchema.parse({ title: 'T', ...def }) as BuiltinCheckDef;
  return { module: 'd', name: spec.builtin, title: 'T', type: 'builtin', spec };
}
async function one(opts: Partial<DoctorOptions>, check: LoadedCheck, configDir = dir): Promise<CheckResult> {
  const report = DoctorReportSchema.parse(await new Doctor({ configDir, hubUrl: null, ...opts }).run([moduleOf(check)]));
  assert.equal(report.checks.length, 1);
  return report.checks[0]!;
}
function script(name: string, body: string): string {
  const f = join(dir, name);
  writeFileSync(f, `#!/bin/sh\n${body}\n`);
  chmodSync(f, 0o755);
  return f;
}

describe('certificate', () => {
  for (const [days, status] of [[30, 'pass'], [5, 'warn'], [1, 'fail']] as const) {
    it(`${days} days left → ${status}`, async () => {
      const cfg = join(dir, `cert-${days}`);
      mkdirSync(cfg);
      writeFileSync(join(cfg, 'cert.pem'), (await selfSigned(days)).cert);
      const r = await one({}, builtin({ builtin: 'certificate' }), cfg);
      assert.equal(r.status, status);
      assert.ok(r.value !== undefined && r.value !== null && Math.abs(r.value - (days - 0.05)) < 0.2, `value ${r.value}`);
    });
  }
  it('missing → fail, with the hint', async () => {
    const r = await one({}, builtin({ builtin: 'certificate' }), join(dir, 'nowhere'));
    assert.equal(r.status, 'fail');
    assert.match(r.detail, /no device certificate at .*cert\.pem; run: pi-agent connect/);
  });
});

describe('hub', () => {
  let server: Server;
  let port: number;
  let pinned: string;
  before(async () => {
    const { cert, key } = await selfSigned(30);
    pinned = join(dir, 'pinned');
    mkdirSync(pinned);
    writeFileSync(join(pinned, 'ca.pem'), cert);
    server = createServer({ cert, key, minVersion: 'TLSv1.3' }, (s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => server.close());

  it('not connected → skip', async () => {
    assert.equal((await one({}, builtin({ builtin: 'hub' }))).status, 'skip');
  });
  it('a hub that chains to the pinned CA → pass', async () => {
    const r = await one({ hubUrl: `https://127.0.0.1:${port}` }, builtin({ builtin: 'hub' }), pinned);
    assert.equal(r.status, 'pass', r.detail);
    assert.doesNotMatch(r.detail, /not verified/);
  });
  it('a hub that does not chain to the pinned CA → fail', async () => {
    const other = join(dir, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'ca.pem'), (await selfSigned(30)).cert);
    const r = await one({ hubUrl: `https://127.0.0.1:${port}` }, builtin({ builtin: 'hub' }), other);
    assert.equal(r.status, 'fail');
  });
  it('nothing listening → fail', async () => {
    const closed = createServer({});
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const dead = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const r = await one({ hubUrl: `https://127.0.0.1:${dead}` }, builtin({ builtin: 'hub' }));
    assert.deepEqual([r.status, r.detail], ['fail', `cannot reach 127.0.0.1:${dead}: ECONNREFUSED`]);
  });
});

describe('sensors and clock', () => {
  const sensors = (over: Partial<{ thermal: string; vcgencmd: string }>) => ({ thermal: join(dir, 'none'), model: join(dir, 'none'), vcgencmd: join(dir, 'none'), ...over });

  it('temperature: graded by thresholds, skipped without a sensor', async () => {
    writeFileSync(join(dir, 'temp'), '75123\n');
    const warm = await one({ sensorPaths: sensors({ thermal: join(dir, 'temp') }) }, builtin({ builtin: 'temperature' }));
    assert.deepEqual([warm.status, warm.value], ['warn', 75.1]);
    const hot = await one({ sensorPaths: sensors({ thermal: join(dir, 'temp') }) }, builtin({ builtin: 'temperature', warnC: 60, failC: 75 }));
    assert.equal(hot.status, 'fail');
    assert.equal((await one({ sensorPaths: sensors({}) }, builtin({ builtin: 'temperature' }))).status, 'skip');
  });

  it('throttling: under-voltage now fails, since boot warns, none passes', async () => {
    for (const [raw, status] of [['0x50005', 'fail'], ['0x50000', 'warn'], ['0x0', 'pass']] as const) {
      const vc = script(`vcgencmd-${raw}`, `echo throttled=${raw}`);
      const r = await one({ sensorPaths: sensors({ vcgencmd: vc }) }, builtin({ builtin: 'throttling' }));
      assert.equal(r.status, status, `${raw}: ${r.detail}`);
    }
  });

  it('clock: timedatectl first, then systemd-timesyncd, else skip', async () => {
    const yes = script('timedatectl-yes', 'echo yes');
    const no = script('timedatectl-no', 'echo no');
    const broken = script('timedatectl-broken', 'echo "System has not been booted with systemd" >&2; exit 1');
    const synced = join(dir, 'synchronized');
    writeFileSync(synced, '');
    const clock = builtin({ builtin: 'clock' });
    assert.equal((await one({ timedatectl: yes }, clock)).status, 'pass');
    assert.equal((await one({ timedatectl: no }, clock)).status, 'warn');
    assert.equal((await one({ timedatectl: broken, timesyncFile: synced }, clock)).status, 'pass');
    assert.equal((await one({ timedatectl: join(dir, 'none'), timesyncFile: join(dir, 'none') }, clock)).status, 'skip');
  });
});

describe('command checks', { skip: process.getuid?.() !== 0 && 'needs root to switch users' }, () => {
  it('run as their user; a timeout fails', async () => {
    const u = await resolveUser('nobody');
    assert.ok(u.ok);
    const who: LoadedCheck = { module: 'd', name: 'who', title: 'Who', type: 'command', argv: ['/usr/bin/id', '-u'], user: u.user, timeoutSec: 5, pass: { number: { op: '==', value: 65534 } } };
    assert.deepEqual(await one({}, who).then((r) => [r.status, r.value]), ['pass', 65534]);
    const slow: LoadedCheck = { ...who, name: 'slow', argv: ['/bin/sleep', '30'], timeoutSec: 0.2 };
    const r = await one({ exec: { graceMs: 200 } }, slow);
    assert.deepEqual([r.status, r.detail], ['fail', 'timed out after 0.2 s']);
  });
});
