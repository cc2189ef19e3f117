// The doctor's built-in checks (disk, temperature, throttling, clock, hub, certificate), run in-process.
// Each returns an Outcome; whatever goes wrong is its result.
import { execFile } from 'node:child_process';
import { X509Certificate, createHash } from 'node:crypto';
import { access, readFile, statfs } from 'node:fs/promises';
import { isIP } from 'node:net';
import { connect } from 'node:tls';
import type { CheckStatus } from '../../shared/schemas.js';
import { agentPaths } from '../config.js';
import { isPseudoFilesystem } from '../filesystems.js';
import type { LoadedCheck, LoadedModule } from '../modules/loader.js';
import { BUILTIN_CHECKS, type BuiltinCheckDef, CheckSchema, DOCTOR_ID } from '../modules/schema.js';
import { DEFAULT_SENSOR_PATHS, readTemperatureC, readThrottled, type SensorPaths } from '../pi-sensors.js';
import { monotonicMs } from '../clock.js';

/** Where the built-ins look; tests point them at fixtures. */
export interface BuiltinOptions {
  configDir: string;
  /** https://HOST:PORT from agent.json; null when this Pi is not connected. */
  hubUrl: string | null;
  sensorPaths?: SensorPaths;
  mountsFile?: string;
  timedatectl?: string;
  timesyncFile?: string;
}

/** What a check found; the doctor adds its name, title and duration. */
export type Outcome = { status: CheckStatus; detail: string; value?: number | null };

/** `/proc/self/mounts` → the mount points worth a disk check: `/` and every device-backed, writable-kind filesystem. */
export function realMounts(mountsText: string): string[] {
  const seen = new Set<string>();
  for (const line of mountsText.split('\n')) {
    const [dev, rawMount, type] = line.split(' ');
    if (!dev || !rawMount || !type) continue;
    const mount = rawMount.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
    if (mount === '/' || (dev.startsWith('/dev/') && !isPseudoFilesystem(type))) seen.add(mount);
  }
  return [...seen].sort();
}

/** Higher is worse: disk use, temperature. */
export function grade(value: number, warnAt: number, failAt: number): CheckStatus {
  return value >= failAt ? 'fail' : value >= warnAt ? 'warn' : 'pass';
}

/** The six built-ins at their default thresholds, for `pi-agent doctor` when no doctor module is installed. */
export function defaultDoctorModule(): LoadedModule {
  const titles: Record<(typeof BUILTIN_CHECKS)[number], string> = {
    disk: 'Disk space', temperature: 'SoC temperature', throttling: 'Power supply and throttling',
    clock: 'Clock synchronised', hub: 'Hub reachable', certificate: 'Device certificate',
  };
  const checks: LoadedCheck[] = BUILTIN_CHECKS.map((name) => ({
    module: DOCTOR_ID, name, title: titles[name], type: 'builtin' as const,
    spec: CheckSchema.parse({ title: titles[name], builtin: name }) as BuiltinCheckDef,
  }));
  // No file: its version is that of its definition.
  const sha256 = createHash('sha256').update(JSON.stringify(checks)).digest('hex');
  return { file: '(built-in)', sha256, id: DOCTOR_ID, title: 'Health checks', kind: 'doctor', commands: new Map(), checks, pins: new Map() };
}

export function runBuiltin(spec: BuiltinCheckDef, o: BuiltinOptions): Promise<Outcome> {
  switch (spec.builtin) {
    case 'disk': return disk(o, spec.warnPercent, spec.failPercent);
    case 'temperature': return temperature(o, spec.warnC, spec.failC);
    case 'throttling': return throttling(o);
    case 'clock': return clock(o);
    case 'hub': return hub(o, spec.timeoutSec * 1000);
    case 'certificate': return certificate(o, spec.warnDays, spec.failDays);
  }
}

async function disk(o: BuiltinOptions, warnPercent: number, failPercent: number): Promise<Outcome> {
  const mounts = realMounts(await readFile(o.mountsFile ?? '/proc/self/mounts', 'utf8').catch(() => '/ / rootfs'));
  const parts: { mount: string; pct: number }[] = [];
  for (const mount of mounts) {
    try {
      const s = await statfs(mount);
      const used = (s.blocks - s.bfree) * s.bsize;
      const usable = used + s.bavail * s.bsize; // as df counts: space reserved for root is not usable
      if (usable > 0) parts.push({ mount, pct: Math.round((used / usable) * 1000) / 10 });
    } catch {
      // Unmounted meanwhile, or not ours to see.
    }
  }
  if (parts.length === 0) return { status: 'skip', detail: 'no filesystem could be measured' };
  const worst = parts.reduce((a, b) => (b.pct > a.pct ? b : a));
  return {
    status: grade(worst.pct, warnPercent, failPercent),
    detail: parts.map((p) => `${p.mount} ${p.pct}% used`).join(', '),
    value: worst.pct,
  };
}

async function temperature(o: BuiltinOptions, warnC: number, failC: number): Promise<Outcome> {
  const t = await readTemperatureC(o.sensorPaths ?? DEFAULT_SENSOR_PATHS);
  if (t === null) return { status: 'skip', detail: 'no temperature sensor' };
  return { status: grade(t, warnC, failC), detail: `${t} °C (warn at ${warnC}, fail at ${failC})`, value: t };
}

async function throttling(o: BuiltinOptions): Promise<Outcome> {
  const t = await readThrottled(o.sensorPaths ?? DEFAULT_SENSOR_PATHS);
  if (t === null) return { status: 'skip', detail: 'vcgencmd is not available (not a Raspberry Pi?)' };
  const now = [t.underVoltageNow && 'under-voltage', t.throttledNow && 'throttled', t.freqCappedNow && 'frequency capped', t.softTempLimitNow && 'soft temperature limit'].filter(Boolean);
  const ever = [t.underVoltageEver && 'under-voltage', t.throttledEver && 'throttling', t.freqCappedEver && 'frequency capping', t.softTempLimitEver && 'soft temperature limit'].filter(Boolean);
  const hex = `0x${t.raw.toString(16)}`;
  if (t.underVoltageNow || t.throttledNow) return { status: 'fail', detail: `now: ${now.join(', ')} (${hex}); check the power supply and cooling`, value: t.raw };
  if (now.length > 0) return { status: 'warn', detail: `now: ${now.join(', ')} (${hex})`, value: t.raw };
  if (ever.length > 0) return { status: 'warn', detail: `since boot: ${ever.join(', ')} (${hex})`, value: t.raw };
  return { status: 'pass', detail: 'no under-voltage or throttling since boot', value: t.raw };
}

async function clock(o: BuiltinOptions): Promise<Outcome> {
  const answer = await new Promise<string | null>((resolve) => {
    execFile(o.timedatectl ?? '/usr/bin/timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { timeout: 3000, env: {} }, (err, stdout) => {
      resolve(err ? null : stdout.trim());
    });
  });
  if (answer === 'yes') return { status: 'pass', detail: 'NTP synchronised (timedatectl)' };
  if (answer === 'no') return { status: 'warn', detail: 'the clock is not NTP-synchronised (timedatectl); certificates may be refused' };
  try {
    await access(o.timesyncFile ?? '/run/systemd/timesync/synchronized');
    return { status: 'pass', detail: 'synchronised (systemd-timesyncd)' };
  } catch {
    return { status: 'skip', detail: 'cannot tell: timedatectl did not answer and systemd-timesyncd has not reported synchronisation' };
  }
}

async function hub(o: BuiltinOptions, timeoutMs: number): Promise<Outcome> {
  if (!o.hubUrl) return { status: 'skip', detail: 'this Pi is not connected to a hub' };
  let url: URL;
  try {
    url = new URL(o.hubUrl);
  } catch {
    return { status: 'fail', detail: `hub URL ${o.hubUrl} is not valid` };
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || 443);
  const paths = agentPaths(o.configDir);
  const read = (f: string) => readFile(f).catch(() => undefined);
  const [ca, cert, key] = await Promise.all([read(paths.chain), read(paths.cert), read(paths.key)]);
  const started = monotonicMs();
  return new Promise<Outcome>((resolve) => {
    const socket = connect({
      host, port,
      ...(isIP(host) ? {} : { servername: host }),
      ca, // pinned chain written by `pi-agent connect`; without it the handshake is only tested, not trusted
      rejectUnauthorized: ca !== undefined,
      ...(cert && key ? { cert, key } : {}),
      minVersion: 'TLSv1.3',
    });
    const done = (r: Outcome) => { clearTimeout(timer); socket.destroy(); resolve(r); };
    const timer = setTimeout(() => done({ status: 'fail', detail: `no TLS connection to ${host}:${port} within ${timeoutMs / 1000} s` }), timeoutMs);
    socket.once('secureConnect', () => {
      const ms = Math.round(monotonicMs() - started);
      done({ status: 'pass', detail: `TLS to ${host}:${port} in ${ms} ms${ca ? '' : ' (not verified: no ca.pem)'}`, value: ms });
    });
    socket.once('error', (e: NodeJS.ErrnoException) => done({ status: 'fail', detail: `cannot reach ${host}:${port}: ${e.code ?? e.message}` }));
  });
}

async function certificate(o: BuiltinOptions, warnDays: number, failDays: number): Promise<Outcome> {
  const file = agentPaths(o.configDir).cert;
  let pem: Buffer;
  try {
    pem = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES') return { status: 'skip', detail: `cannot read ${file} (run as root)` };
    return { status: 'fail', detail: `no device certificate at ${file}; run: pi-agent connect --hub https://HOST:PORT --api-key KEY --fingerprint SHA256` };
  }
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(pem);
  } catch {
    return { status: 'fail', detail: `${file} is not a certificate; run pi-agent connect again` };
  }
  const now = Date.now();
  if (new Date(x509.validFrom).getTime() > now) return { status: 'fail', detail: `not valid before ${x509.validFrom}: is the clock right?` };
  const days = Math.floor(((new Date(x509.validTo).getTime() - now) / 86_400_000) * 10) / 10;
  if (days <= 0) return { status: 'fail', detail: `expired on ${x509.validTo}; run pi-agent connect again`, value: days };
  const status: CheckStatus = days < failDays ? 'fail' : days < warnDays ? 'warn' : 'pass';
  return { status, detail: `${days} days left (until ${x509.validTo})${status === 'pass' ? '' : '; renewal is overdue: is the hub reachable?'}`, value: days };
}
