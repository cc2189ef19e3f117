// pi-hub's settings: flags override the environment, which overrides the config file
// (<data-dir>/hub.json, or the file PI_HUB_CONFIG names), which overrides the defaults.
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, UsageError } from '../shared/errors.js';
import { readConfigJson, readTextFile } from '../shared/read-file.js';
import type { AuditRetention } from './audit-writer.js';
import { type FleetLimits, fleetLimitsFrom } from './fleet-limits.js';
import { type ClusterAddress, ClusterUrlSchema } from './cluster/url.js';
import type { BrokerLimits } from './mqtt/broker.js';
import { MQTT_PERSISTENCES, type MqttPersistenceKind } from './mqtt/choose-persistence.js';

export const DEFAULT_DATA_DIR = '/var/lib/pi-hub';

export const ClientAuthSchema = z.enum(['none', 'want', 'need']);
export type ClientAuth = z.infer<typeof ClientAuthSchema>;

const Port = z.coerce.number().int().min(0).max(65535);

export const HubConfigFileSchema = z.strictObject({
  host: z.string().min(1).optional(),
  port: Port.optional(),
  mqttsPort: Port.optional(),
  clientAuth: ClientAuthSchema.optional(),
  /** Extra names and addresses the server certificate must cover (the hub's public DNS name…). */
  serverNames: z.array(z.string().min(1).max(253)).optional(),
  /** How others reach the hub, https://HOST[:PORT]: the CRL's address in every certificate issued. */
  publicUrl: z.string().regex(/^https:\/\/[^/?#\s]+$/, 'https://HOST or https://HOST:PORT, no path').optional(),
  /** SPIFFE trust domain, fixed when the CA is created. */
  trustDomain: z.string().regex(/^[a-z0-9.-]{1,255}$/).optional(),
  deviceCertDays: z.number().positive().max(825).optional(),
  userCertDays: z.number().positive().max(825).optional(),
  caPassphraseFile: z.string().optional(),
  /** A persistent MQTT session nobody resumes for this long is dropped, with what it queued. */
  sessionExpiryDays: z.number().positive().max(3650).optional(),
  /** Persistent sessions one user may hold (a Pi's own does not count). */
  maxSessionsPerUser: z.number().int().min(1).max(100_000).optional(),
  /** Where MQTT sessions, queues, retained messages and wills live: mqtt.db (kept across restarts) or memory. */
  mqttPersistence: z.enum(MQTT_PERSISTENCES).optional(),
  /** QoS 1 messages held for one session while it is away or slow, in count and payload MiB. */
  maxQueuedMessages: z.number().int().min(1).max(1_000_000).optional(),
  maxQueuedMiB: z.number().positive().max(4096).optional(),
  /** Enrollments and renewals per client address: this many at once, then this many a minute. */
  enrollBurst: z.number().int().min(1).max(100_000).optional(),
  enrollPerMinute: z.number().positive().max(100_000).optional(),
  /** MQTT connections at once (both listeners), Pis a user may enroll, stats a Pi may send a minute (fleet-limits.ts). */
  maxConnections: z.number().int().min(1).max(1_000_000).optional(),
  maxDevicesPerUser: z.number().int().min(1).max(1_000_000).optional(),
  statsPerMinute: z.number().positive().max(60_000).optional(),
  mqttAcceptPerSecond: z.number().int().min(1).max(100_000).optional(),
  /** The audit log keeps entries this long, and at most this many. */
  auditRetentionDays: z.number().positive().max(36_500).optional(),
  auditMaxRows: z.number().int().min(1_000).max(1_000_000_000).optional(),
  /** Several hub nodes on one data directory share their MQTT state through this Redis (redis://HOST:PORT). */
  cluster: z.string().optional(),
});
export type HubConfigFile = z.infer<typeof HubConfigFileSchema>;

export interface HubConfig {
  dataDir: string;
  host: string;
  port: number;
  mqttsPort: number;
  clientAuth: ClientAuth;
  serverNames: string[];
  trustDomain: string;
  deviceCertLifetimeMs: number;
  userCertLifetimeMs: number;
  caPassphrase: string | undefined;
  /** hub.json's publicUrl, else https://<host name>:<port>. */
  publicUrl: (port: number) => string;
  enrollRate: { burst: number; perMinute: number };
  limits: BrokerLimits;
  mqttPersistence: MqttPersistenceKind;
  auditRetention: AuditRetention;
  fleet: FleetLimits;
  /** The Redis that hub nodes share their MQTT state through (--cluster), or null: one node, in memory. */
  cluster: ClusterAddress | null;
}

const DAY = 86_400_000;

export function dataDirFrom(flag: string | undefined): string {
  return flag ?? process.env.PI_HUB_DATA_DIR ?? DEFAULT_DATA_DIR;
}

function readConfigFile(dataDir: string): HubConfigFile {
  const file = process.env.PI_HUB_CONFIG ?? join(dataDir, 'hub.json');
  return existsSync(file) ? readConfigJson(file, HubConfigFileSchema) : {};
}

/**
 * The CA passphrase: PI_HUB_CA_PASSPHRASE, else the file PI_HUB_CA_PASSPHRASE_FILE or caPassphraseFile
 * names, else systemd's credential `ca-passphrase` (LoadCredential=ca-passphrase:/path).
 */
export function caPassphrase(file?: HubConfigFile): string | undefined {
  if (process.env.PI_HUB_CA_PASSPHRASE) return process.env.PI_HUB_CA_PASSPHRASE;
  const credDir = process.env.CREDENTIALS_DIRECTORY;
  const path = process.env.PI_HUB_CA_PASSPHRASE_FILE ?? file?.caPassphraseFile
    ?? (credDir && existsSync(join(credDir, 'ca-passphrase')) ? join(credDir, 'ca-passphrase') : undefined);
  return path === undefined ? undefined : readPassphraseFile(path);
}

/** A passphrase file: its text without the final newline an editor adds. */
export function readPassphraseFile(path: string): string {
  return readTextFile(path, 'the CA passphrase file').replace(/\r?\n$/, '');
}

export interface ServeFlags { dataDir?: string; host?: string; port?: string; mqttsPort?: string; clientAuth?: string; cluster?: string }

/**
 * --cluster, else PI_HUB_CLUSTER, else hub.json `cluster`, else none. Checked like the other settings,
 * but a refusal never repeats the address: it may hold a password.
 */
function clusterFrom(flag: string | undefined, fileValue: string | undefined): ClusterAddress | null {
  const env = process.env.PI_HUB_CLUSTER;
  const [where, value, Err] = flag !== undefined ? ['--cluster', flag, UsageError]
    : env !== undefined && env !== '' ? ['PI_HUB_CLUSTER', env, ConfigError]
      : fileValue !== undefined ? ['hub.json cluster', fileValue, ConfigError] : [null, null, ConfigError];
  if (where === null || value === null) return null;
  const r = ClusterUrlSchema.safeParse(value);
  if (!r.success) throw new Err(`${where}: ${r.error.issues[0]!.message}`);
  return r.data;
}

export function resolveHubConfig(flags: ServeFlags): HubConfig {
  const dataDir = dataDirFrom(flags.dataDir);
  const file = readConfigFile(dataDir);
  // The first source that has a value wins. A bad flag is bad usage (exit 2); a bad environment variable
  // is bad configuration (78), named as such. hub.json was validated as a whole when it was read.
  const pick = <T>(schema: z.ZodType<T>, flag: string, flagValue: unknown, envName: string, fileValue: T | undefined): T | undefined => {
    const check = (v: unknown, fail: (msg: string) => Error): T => {
      const r = schema.safeParse(v);
      if (!r.success) throw fail(`${r.error.issues[0]!.message} (got ${JSON.stringify(v)})`);
      return r.data;
    };
    if (flagValue !== undefined) return check(flagValue, (m) => new UsageError(`${flag}: ${m}`));
    const env = process.env[envName];
    if (env !== undefined && env !== '') return check(env, (m) => new ConfigError(`${envName}: ${m}`));
    return fileValue;
  };
  const host = pick(z.string().min(1), '--host', flags.host, 'PI_HUB_HOST', file.host) ?? '127.0.0.1';
  const names = new Set(['localhost', '127.0.0.1', '::1', hostname(), ...(file.serverNames ?? [])]);
  if (!['0.0.0.0', '::'].includes(host)) names.add(host);
  // Test-only: device certificates that live seconds, to exercise renewal.
  const testLifetime = pick(z.coerce.number().int().min(3), '(none)', undefined, 'PI_HUB_TEST_DEVICE_CERT_SECONDS', undefined);
  return {
    dataDir,
    host,
    port: pick(Port, '--port', flags.port, 'PI_HUB_PORT', file.port) ?? 8443,
    mqttsPort: pick(Port, '--mqtts-port', flags.mqttsPort, 'PI_HUB_MQTTS_PORT', file.mqttsPort) ?? 8883,
    clientAuth: pick(ClientAuthSchema, '--client-auth', flags.clientAuth, 'PI_HUB_CLIENT_AUTH', file.clientAuth) ?? 'want',
    serverNames: [...names],
    trustDomain: file.trustDomain ?? 'pifleet.local',
    deviceCertLifetimeMs: testLifetime !== undefined ? testLifetime * 1000 : (file.deviceCertDays ?? 30) * DAY,
    userCertLifetimeMs: (file.userCertDays ?? 365) * DAY,
    caPassphrase: caPassphrase(file),
    publicUrl: (port) => file.publicUrl ?? `https://${hostname()}:${port}`,
    enrollRate: { burst: file.enrollBurst ?? 30, perMinute: file.enrollPerMinute ?? 30 },
    limits: {
      queue: { maxMessages: file.maxQueuedMessages ?? 1000, maxBytes: Math.round((file.maxQueuedMiB ?? 16) * 1024 * 1024) },
      sessions: { maxPerUser: file.maxSessionsPerUser ?? 32, expiryMs: (file.sessionExpiryDays ?? 30) * DAY },
    },
    mqttPersistence: file.mqttPersistence ?? 'sqlite',
    auditRetention: { maxAgeMs: (file.auditRetentionDays ?? 90) * DAY, maxRows: file.auditMaxRows ?? 1_000_000 },
    fleet: fleetLimitsFrom(file),
    cluster: clusterFrom(flags.cluster, file.cluster),
  };
}
