// pi-hub serve: wires the data directory, the CA, the store-backed services, the broker, the API and
// the listeners, and stops them in the reverse order.
import { readFileSync } from 'node:fs';
import { createLogger, type Logger } from '../shared/log.js';
import { VERSION } from '../shared/version.js';
import { createApi } from './api/routes.js';
import { AuditWriter } from './audit-writer.js';
import { HubBroker, type HubBrokerDeps } from './mqtt/broker.js';
import { RETAINED_SWEEP_MS, deviceTopics } from './mqtt/retained-sweep.js';
import { choosePersistence } from './mqtt/choose-persistence.js';
import { CrlPublisher } from './ca/crl.js';
import { caPaths } from './ca/files.js';
import { loadTicketKeys } from './ca/ticket-keys.js';
import { type RunningCluster, startCluster } from './cluster/cluster.js';
import { ensureServerCert } from './ca/server-cert.js';
import type { HubConfig } from './config.js';
import { openHubData } from './data-dir.js';
import { DeviceTracker } from './device-tracker.js';
import { CertificateResolver, SessionResolver } from './mqtt/identity.js';
import { HubServer } from './server.js';
import { SessionRegistry } from './mqtt/sessions.js';

export interface RunningHub {
  port: number;
  mqttsPort: number;
  fingerprint: string;
  stop(): Promise<void>;
}

export async function startHub(config: HubConfig, log: Logger = createLogger('pi-hub')): Promise<RunningHub> {
  const data = await openHubData(config.dataDir, config.trustDomain);
  const store = data.store;
  // --cluster: MQTT state lives in Redis and other nodes may hold Pis now; alone, in mqtt.db (or memory).
  // Redis is reached first, so that a node that cannot reach it changes nothing and says only that.
  let cluster: RunningCluster | null = null;
  if (config.cluster) {
    try {
      cluster = await startCluster(config.cluster, { log: log.child('cluster'), maxQueuedMessages: config.limits.queue.maxMessages });
    } catch (err) {
      store.close();
      throw err;
    }
  } else {
    store.devices.markAllOffline(); // nobody is connected yet; retained statuses are settled by the broker (earlier-run.ts)
  }
  const ca = await data.loadCa(config.caPassphrase).catch(async (err: unknown) => { await cluster?.stop(); throw err; });
  if (await ensureServerCert(config.dataDir, ca, config.serverNames)) log.info('issued a server certificate', { names: config.serverNames.join(',') });
  const paths = caPaths(config.dataDir);

  const sessions = new SessionRegistry(store, log.child('sessions'));
  const crl = new CrlPublisher(ca, store, paths.crl, log.child('crl'));
  const revocations = cluster ? cluster.revocations(store.revocationFeed()) : store.revocationFeed();
  const tracker = new DeviceTracker(store, log.child('devices'));
  const audit = new AuditWriter(store, log.child('audit'), config.auditRetention);
  // With --cluster, Redis holds what the broker keeps (and other nodes share it); alone, mqtt.db or memory.
  let mqtt: Pick<HubBrokerDeps, 'persistence' | 'emitter' | 'holders' | 'sharedQueues' | 'singleNode'>;
  if (cluster) {
    mqtt = { ...cluster.broker, singleNode: false };
  } else {
    const chosen = choosePersistence(config.mqttPersistence, config.dataDir);
    log.info('MQTT persistence', { persistence: chosen.describe });
    mqtt = { persistence: chosen.persistence, singleNode: chosen.singleNode };
  }
  const broker = new HubBroker({ sessions, tracker, audit, log: log.child('mqtt'), limits: config.limits, ...mqtt, fleet: config.fleet });
  const resolvers = [new CertificateResolver(store, data.trustDomain), new SessionResolver(store)];
  let listening: { port: number } | null = null;
  const api = createApi({
    store, ca, crl, sessions, tracker, audit, resolvers, deviceCertLifetimeMs: config.deviceCertLifetimeMs, enrollRate: config.enrollRate,
    maxDevicesPerUser: config.fleet.maxDevicesPerUser,
    publicUrl: () => config.publicUrl(listening?.port ?? config.port), log: log.child('api'),
    forgetRetained: (userId, serial) => broker.pruneRetained(deviceTopics(userId, serial)),
  });
  const server = new HubServer(broker, resolvers, api.listener, log.child('server'));

  tracker.start();
  audit.start();
  await crl.start();
  revocations.start(() => {
    sessions.cutRevoked();
    void crl.refresh();
  });
  await broker.start();
  // Pis removed while the hub was down, or through the CLI: their retained messages go (retained-sweep.ts).
  await broker.pruneRetained();
  const sweep = setInterval(() => void broker.pruneRetained(), RETAINED_SWEEP_MS).unref();
  let ports: { port: number; mqttsPort: number };
  try {
    ports = await server.listen({
      host: config.host,
      port: config.port,
      mqttsPort: config.mqttsPort,
      clientAuth: config.clientAuth,
      tls: { key: readFileSync(paths.serverKey, 'utf8'), cert: readFileSync(paths.serverCert, 'utf8'), ca: [ca.rootPem, ca.issuingPem], ticketKeys: loadTicketKeys(config.dataDir) },
      acceptPerSecond: config.fleet.acceptPerSecond,
    });
  } catch (err) {
    clearInterval(sweep);
    await broker.stop(); // closes mqtt.db: the demo tries again on other ports in this process
    throw err;
  }
  listening = ports;
  ca.setCrlUrl(`${config.publicUrl(ports.port)}/api/v1/ca/crl`);
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  log.info(`listening https://${host}:${ports.port} mqtts://${host}:${ports.mqttsPort}`, {
    version: VERSION, clientAuth: config.clientAuth, fingerprint: ca.fingerprint, dataDir: config.dataDir,
  });
  if (config.host === '127.0.0.1' || config.host === '::1') {
    log.info('only this machine can connect; pass --host 0.0.0.0 (or set "host" in hub.json) to accept Pis from the network');
  }

  let stopped = false;
  return {
    ...ports,
    fingerprint: ca.fingerprint,
    async stop() {
      if (stopped) return;
      stopped = true;
      const t0 = performance.now();
      clearInterval(sweep);
      server.stopAccepting();
      await broker.stop();
      const t1 = performance.now();
      await server.close();
      const t2 = performance.now();
      revocations.stop();
      crl.stop();
      sessions.stop();
      tracker.stop();
      audit.stop();
      await cluster?.stop();
      store.close();
      const t3 = performance.now();
      log.info('stopped', { brokerMs: Math.round(t1 - t0), listenersMs: Math.round(t2 - t1), storesMs: Math.round(t3 - t2) });
    },
  };
}
