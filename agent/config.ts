// The agent's files (docs/ARCHITECTURE.md "Identity and trust"): everything lives in one config directory
// (default /etc/pi-agent, mode 0700) so tests and demos never need root or /etc.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from 'zod';
import { CliError, ConfigError, formatIssues } from '../shared/errors.js';
import { readConfigJson } from '../shared/read-file.js';
import { SerialSchema } from '../shared/schemas.js';

export const DEFAULT_CONFIG_DIR = '/etc/pi-agent';

export const AgentConfigSchema = z.strictObject({
  /** https://HOST:PORT of pi-hub; MQTT goes to wss://HOST:PORT/mqtt. */
  hub: z.url({ protocol: /^https$/ }),
  serial: SerialSchema,
  trustDomain: z.string().min(1),
  userId: z.string().min(1),
  /** Seconds between stats messages. */
  statsIntervalSec: z.number().min(1).max(3600).default(5),
  /** The user a command runs as when its module does not say (docs/ARCHITECTURE.md: `pi`). */
  defaultUser: z.string().min(1).max(32).default('pi'),
  /** Commands running at once; more wait in a queue of `maxQueued`, beyond that they are refused. */
  maxConcurrent: z.number().int().min(1).max(64).default(2),
  maxQueued: z.number().int().min(0).max(1024).default(32),
  /** Reconnect backoff (exponential with full jitter, capped). */
  reconnectMinMs: z.number().int().min(10).default(1000),
  reconnectMaxMs: z.number().int().min(100).default(60_000),
  /** After the hub refused this Pi's certificate (revoked): how long between slow retries. */
  refusedRetrySec: z.number().min(1).default(600),
  /** Where the command log and the seen-request ids live; default $STATE_DIRECTORY or <config-dir>/state. */
  stateDir: z.string().optional(),
  /** The GPIO driver (docs/ARCHITECTURE.md, "GPIO"); `pi-agent run --sim` always uses sim. */
  gpioDriver: z.enum(['auto', 'sysfs', 'pigpio', 'sim']).default('auto'),
  /** Pins with failSafe go to their safe level when the hub link has been down this long. */
  gpioFailSafeSec: z.number().min(1).max(86_400).default(30),
});
export type AgentConfig = z.infer<typeof AgentConfigSchema>;
export type AgentConfigInput = z.input<typeof AgentConfigSchema>;

export interface AgentPaths {
  dir: string;
  config: string;
  key: string;
  cert: string;
  chain: string;
  modules: string;
  state: string;
  /** Written by the daemon for `pi-agent status`. */
  status: string;
  /** Written by the daemon for `pi-agent gpio`. */
  gpio: string;
}

export function agentPaths(dir: string, stateDir?: string): AgentPaths {
  const state = stateDir ?? process.env.STATE_DIRECTORY ?? join(dir, 'state');
  return {
    dir,
    config: join(dir, 'agent.json'),
    key: join(dir, 'key.pem'),
    cert: join(dir, 'cert.pem'),
    chain: join(dir, 'ca.pem'),
    modules: join(dir, 'modules'),
    state,
    status: join(state, 'status.json'),
    gpio: join(state, 'gpio.json'),
  };
}

/** Reads and validates agent.json; a missing or bad file is a ConfigError (exit 78). */
export function loadAgentConfig(dir: string): AgentConfig {
  const file = join(dir, 'agent.json');
  if (!existsSync(file)) {
    throw new ConfigError(`this Pi is not connected: ${file} does not exist`, 'run: sudo pi-agent connect --hub https://HOST:PORT --api-key KEY --fingerprint SHA256');
  }
  return readConfigJson(file, AgentConfigSchema);
}

/** agent.json as its owner wrote it: `connect --force` keeps these settings and writes no defaults. */
export const OwnerSettingsSchema = z.record(z.string(), z.unknown());
export type OwnerSettings = z.infer<typeof OwnerSettingsSchema>;

/**
 * The settings in an existing agent.json, checked as they will be kept, with the new hub and serial
 * (trustDomain and userId come from the hub). No file, or no JSON in it, is no settings, as on a first
 * connect; settings that would not load are a CliError naming each field.
 */
export function readOwnerSettings(file: string, identity: { hub: string; serial: string }): OwnerSettings {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return {};
  }
  const refusal = (e: z.ZodError) => new CliError(formatIssues(e, `${file}: `).join('\n'), 1, `correct ${file}, or remove it to connect with the default settings`);
  const settings = OwnerSettingsSchema.safeParse(raw);
  if (!settings.success) throw refusal(settings.error);
  const { trustDomain: _t, userId: _u, ...kept } = settings.data;
  const check = AgentConfigSchema.omit({ trustDomain: true, userId: true }).safeParse({ ...kept, ...identity });
  if (!check.success) throw refusal(check.error);
  return settings.data;
}
