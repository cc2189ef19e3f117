// `pi-agent run`: wires the long-running parts and stops them in order.
//
//   ModuleRegistry ─ manifest ─┐
//   CommandService ─ results ──┼─ MqttLink (wss, mTLS) ── pi-hub
//   StatsPublisher ─ stats ────┤
//   CertRenewer ── switchCredentials
//
// SIGTERM: answer or stop what runs, publish {online:false}, end the session, exit 0.
// SIGHUP: reload the modules and agent.json's stats interval; other agent.json changes are named in
// the log as needing a restart.
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { ConfigError } from '../shared/errors.js';
import { ensureDir, writeFileAtomic } from '../shared/fs.js';
import { createLogger, type Logger } from '../shared/log.js';
import { type CmdResult, type Manifest, ManifestSchema, type Status, StatusSchema } from '../shared/schemas.js';
import { parseDeviceTopic, topics } from '../shared/topics.js';
import { VERSION } from '../shared/version.js';
import { CommandService } from './commands.js';
import { type AgentConfig, type AgentPaths, agentPaths, loadAgentConfig } from './config.js';
import { Doctor } from './doctor.js';
import { type DaemonState, completeIdentityWrite } from './identity-files.js';
import { ModuleRegistry } from './modules/registry.js';
import { type Credentials, MqttLink } from './mqtt-link.js';
import { readModel } from './pi-sensors.js';
import { CertRenewer } from './renewer.js';
import { SdNotify } from './sd-notify.js';
import { StatsPublisher } from './stats-publisher.js';
import { SimStatsSampler, SystemStatsSampler } from './stats.js';

export interface RunOptions { configDir: string; sim: boolean }

/** Reads key, certificate and chain, and checks that the key belongs to the certificate. */
export function readCredentials(paths: AgentPaths, log?: Logger): Credentials {
  if (completeIdentityWrite(paths)) log?.warn('finished storing a certificate interrupted by a crash', { file: paths.cert });
  for (const f of [paths.key, paths.cert, paths.chain]) {
    if (!existsSync(f)) throw new ConfigError(`${f} is missing: this Pi is not fully connected`, 'run: sudo pi-agent connect … --force');
  }
  const creds = { key: readFileSync(paths.key, 'utf8'), cert: readFileSync(paths.cert, 'utf8'), ca: readFileSync(paths.chain, 'utf8') };
  const spki = (pem: string, priv: boolean) =>
    (priv ? createPublicKey(createPrivateKey(pem)) : new X509Certificate(pem).publicKey).export({ format: 'der', type: 'spki' }).toString('hex');
  if (spki(creds.key, true) !== spki(creds.cert, false)) throw new ConfigError(`${paths.key} does not belong to ${paths.cert}`, 'run: sudo pi-agent connect … --force');
  return creds;
}

export async function runDaemon(o: RunOptions, log: Logger = createLogger('pi-agent')): Promise<number> {
  const config: AgentConfig = loadAgentConfig(o.configDir);
  const paths = agentPaths(o.configDir, config.stateDir);
  let creds = readCredentials(paths, log);
  ensureDir(paths.state, 0o700);
  const serial = config.serial;
  const model = o.sim ? 'Raspberry Pi 4 Model B Rev 1.5 (simulated)' : await readModel();

  const notify = new SdNotify(log.child('systemd'));
  const registry = new ModuleRegistry({ modulesDir: paths.modules, defaultUser: config.defaultUser, logger: log.child('modules') });
  let link: MqttLink;

  const publishJson = (topic: string, payload: unknown, qos: 0 | 1, retain: boolean) =>
    link.publish(topic, JSON.stringify(payload), { qos, retain });

  const status = (online: boolean): Status => StatusSchema.parse({ v: 1, online, ts: Date.now(), agentVersion: VERSION });

  const manifest = (): Manifest => ManifestSchema.parse({
    v: 1, ts: Date.now(), agentVersion: VERSION, device: { model, hostname: hostname() },
    modules: registry.manifestModules(), doctor: registry.hasDoctor(), gpio: [],
  });

  const commands = new CommandService({
    registry,
    stateDir: paths.state,
    logger: log.child('commands'),
    maxConcurrent: config.maxConcurrent,
    maxQueued: config.maxQueued,
    doctor: new Doctor({ configDir: o.configDir, hubUrl: config.hub, logger: log.child('doctor') }),
    onDoctorReport: (report) => void publishJson(topics.doctor(serial), report, 1, true).catch(() => {}),
  });

  const writeState = (connected: boolean) => {
    const s: DaemonState = { pid: process.pid, connected, since: Date.now(), hub: config.hub, serial };
    try { writeFileAtomic(paths.status, JSON.stringify(s), 0o644); } catch { /* status is informational */ }
  };

  let readySent = false;
  link = new MqttLink({
    url: `${config.hub.replace(/^https:/, 'wss:')}/mqtt`,
    clientId: serial,
    credentials: () => creds,
    will: { topic: topics.status(serial), payload: () => JSON.stringify({ v: 1, online: false, ts: Date.now() }) },
    reconnectMinMs: config.reconnectMinMs,
    reconnectMaxMs: config.reconnectMaxMs,
    refusedRetryMs: config.refusedRetrySec * 1000,
    log: log.child('mqtt'),
    diagnose: () => {
      const notAfter = new Date(new X509Certificate(creds.cert).validTo);
      return notAfter.getTime() < Date.now() ? `this Pi's certificate expired on ${notAfter.toISOString()}` : null;
    },
    onConnect: async (client) => {
      await client.subscribeAsync([topics.cmdReq(serial), topics.gpioSetAll(serial)], { qos: 1 });
      await client.publishAsync(topics.status(serial), JSON.stringify(status(true)), { qos: 1, retain: true });
      await client.publishAsync(topics.manifest(serial), JSON.stringify(manifest()), { qos: 1, retain: true });
    },
  });
  link.on('up', () => {
    log.info('online', { hub: config.hub, serial });
    writeState(true);
    stats.kick();
    if (!readySent) { notify.ready(`connected to ${config.hub}`); readySent = true; }
    else notify.status(`connected to ${config.hub}`);
  });
  link.on('down', () => { writeState(false); notify.status('reconnecting'); });
  link.on('message', (topic, payload) => {
    const t = parseDeviceTopic(topic);
    if (t?.kind === 'cmd-req' && t.serial === serial) {
      void commands.submit(payload).then((result: CmdResult | null) => {
        if (result) return publishJson(topics.cmdRes(serial, result.id), result, 1, false);
      }).catch((err: Error) => log.error('cannot publish a command result', { error: err.message }));
    } else if (t?.kind === 'gpio-set') {
      log.warn('GPIO is not available on this agent yet; request ignored', { bcm: t.bcm });
    }
  });

  registry.on('change', () => {
    log.info('modules changed; publishing the manifest', { modules: registry.manifestModules().map((m) => m.id).join(',') });
    if (link.connected) void publishJson(topics.manifest(serial), manifest(), 1, true).catch(() => {});
  });

  const stats = new StatsPublisher(o.sim ? new SimStatsSampler() : new SystemStatsSampler(),
    (s) => publishJson(topics.stats(serial), s, 0, false), log.child('stats'));

  const renewer = new CertRenewer(config.hub, serial, paths, log.child('renew'), async () => {
    creds = readCredentials(paths);
    await link.switchCredentials();
  }, config.refusedRetrySec * 1000);

  await registry.start();
  commands.start();
  link.start();
  stats.start(config.statsIntervalSec);
  renewer.start();
  notify.startWatchdog();
  writeState(false);
  log.info('started', { version: VERSION, serial, hub: config.hub, sim: o.sim, modules: registry.manifestModules().length });

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info('stopping', { signal });
      notify.stopping();
      stats.stop();
      renewer.stop();
      registry.stop();
      await commands.stop(); // every request in hand gets its result before we go offline
      await link.stop({ topic: topics.status(serial), payload: JSON.stringify(status(false)) });
      writeState(false);
      log.info('stopped');
      resolve(0);
    };
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
    process.on('SIGHUP', () => {
      log.info('SIGHUP: reloading agent.json and the modules');
      try {
        const next = loadAgentConfig(o.configDir);
        stats.setInterval(next.statsIntervalSec);
        const later = (Object.keys(next) as Array<keyof AgentConfig>)
          .filter((k) => k !== 'statsIntervalSec' && JSON.stringify(next[k]) !== JSON.stringify(config[k]));
        if (later.length > 0) log.warn(`agent.json: restart pi-agent to apply ${later.join(', ')}`);
      } catch (err) {
        log.error('agent.json not reloaded; keeping the current settings', { error: (err as Error).message });
      }
      void registry.reload();
    });
  });
}

