#!/usr/bin/env node
// pi-agent: the daemon on each Pi and its command line (docs/ARCHITECTURE.md, "Command lines").
import { parseFlags, validate } from '../shared/args.js';
import { CliError, EXIT, UsageError } from '../shared/errors.js';
import { runMain } from '../shared/main.js';
import { VERSION } from '../shared/version.js';
import { DEFAULT_CONFIG_DIR, agentPaths, loadAgentConfig } from './config.js';

const HELP = `pi-agent ${VERSION} — connects this Raspberry Pi to a pifleet hub

usage:
  pi-agent connect --hub https://HOST:PORT --fingerprint SHA256 --api-key - | --api-key-file F [--serial S] [--force]
  pi-agent run [--sim]              the daemon (systemd runs this)
  pi-agent status                   hub, serial, certificate expiry, whether the daemon is connected
  pi-agent modules [check]          what this Pi allows; check validates the module files
  pi-agent doctor [--json]          run the health checks here
  pi-agent gpio [--json]            the pins this Pi offers, their modes and states
  pi-agent disconnect               revoke this Pi's certificate at the hub and forget the identity

Every command takes --config-dir DIR (default ${DEFAULT_CONFIG_DIR}) and --help.
`;

// Each subcommand's own --help; modules and doctor keep theirs beside their bodies.
const CONFIG_DIR_LINE = `  --config-dir DIR   default ${DEFAULT_CONFIG_DIR}, or $PI_AGENT_CONFIG_DIR`;
const CONNECT_USAGE = `usage: pi-agent connect --hub https://HOST:PORT --fingerprint SHA256 --api-key - | --api-key-file F [--serial S] [--force] [--config-dir DIR]

  Makes this Pi's key pair (it never leaves the Pi), checks that the hub chains to the root CA with that
  fingerprint and presents a server certificate for HOST, and only then sends the API key; stores key,
  certificate, CA chain and agent.json in the config directory and installs the default modules.

  --hub URL          https://HOST:PORT of pi-hub; HOST must be a name or address its certificate covers
  --api-key -        read the API key (pk_…, from pi-hub apikey create) from standard input: typed or
                     pasted at the prompt, it shows nowhere, not in the shell history nor in ps
  --api-key-file F   read it from a file (a provisioning image); else $PI_AGENT_API_KEY
  --api-key KEY      works too, but leaves the key in the shell history and in ps
  --fingerprint FP   the root CA's SHA-256 fingerprint (pi-hub ca fingerprint)
  --serial S         this Pi's serial (default: the device tree's, /proc/cpuinfo's or /etc/machine-id's)
  --force            connect again; the old identity is replaced only if the new one succeeds
${CONFIG_DIR_LINE}
`;
const RUN_USAGE = `usage: pi-agent run [--sim] [--config-dir DIR]

  The daemon (systemd runs it): connects to the hub, publishes presence, manifest and stats, and runs
  the commands the modules allow. SIGTERM stops it (exit 0); SIGHUP reloads the modules and agent.json's
  statsIntervalSec.

  --sim              simulated sensors, no hardware (demo and tests)
${CONFIG_DIR_LINE}
`;
const STATUS_USAGE = `usage: pi-agent status [--config-dir DIR]

  The hub, this Pi's serial, the certificate's expiry and whether the daemon is connected.

${CONFIG_DIR_LINE}
`;
const DISCONNECT_USAGE = `usage: pi-agent disconnect [--config-dir DIR]

  Asks the hub to revoke this Pi's certificate, then removes agent.json, the key and the certificates;
  the modules are kept.

${CONFIG_DIR_LINE}
`;

const CONFIG_DIR = { 'config-dir': { type: 'string' } } as const;
const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
const configDirOf = (v: { 'config-dir'?: string }) => v['config-dir'] ?? process.env.PI_AGENT_CONFIG_DIR ?? DEFAULT_CONFIG_DIR;

/** Settings the local commands need; without agent.json they still work on the modules alone. */
function localContext(configDir: string): { defaultUser: string; hubUrl: string | null; stateDir: string | undefined } {
  try {
    const c = loadAgentConfig(configDir);
    return { defaultUser: c.defaultUser, hubUrl: c.hub, stateDir: c.stateDir };
  } catch (err) {
    if (err instanceof CliError && /not connected/.test(err.message)) return { defaultUser: 'pi', hubUrl: null, stateDir: undefined };
    throw err;
  }
}

/** Pulls --config-dir out of argv and leaves the rest to the subcommand's own parser. */
function splitConfigDir(args: string[]): { configDir: string; rest: string[] } {
  const rest: string[] = [];
  let dir: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--config-dir') {
      dir = args[++i];
      if (dir === undefined) throw new UsageError("option '--config-dir <value>' argument missing");
    } else if (a.startsWith('--config-dir=')) dir = a.slice('--config-dir='.length);
    else rest.push(a);
  }
  return { configDir: configDirOf({ 'config-dir': dir }), rest };
}

/**
 * The API key: from standard input (`--api-key -`), a file, $PI_AGENT_API_KEY, or — discouraged, it
 * lands in the shell history and in ps — the command line.
 */
async function apiKeyFrom(flag: string | undefined, file: string | undefined): Promise<{ key: string; from: string }> {
  if (flag !== undefined && file !== undefined) throw new UsageError('give the API key once: --api-key or --api-key-file');
  if (file !== undefined) {
    const { readTextFile } = await import('../shared/read-file.js');
    return { key: readTextFile(file, 'the API key file', EXIT.FAILURE), from: '--api-key-file' };
  }
  if (flag === '-') {
    const { readSecretLine } = await import('../shared/read-file.js');
    return { key: await readSecretLine('API key (pk_…, not shown): '), from: '--api-key' };
  }
  if (flag !== undefined) {
    process.stderr.write('pi-agent: note: a key on the command line stays in the shell history and shows in ps; next time use --api-key - or --api-key-file\n');
    return { key: flag, from: '--api-key' };
  }
  const env = process.env.PI_AGENT_API_KEY;
  if (env) return { key: env, from: 'PI_AGENT_API_KEY' };
  throw new UsageError('connect needs the API key: --api-key - (then paste it), --api-key-file FILE or PI_AGENT_API_KEY',
    'make one on the hub: pi-hub apikey create --user NAME');
}

/** --help needs no agent.json, even a broken one. */
const wantsHelp = (args: string[]) => args.includes('--help') || args.includes('-h');

async function main(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv.filter((a) => a !== '--debug');
  switch (cmd) {
    case undefined: case 'help': case '--help': case '-h':
      out(HELP);
      return cmd === undefined ? EXIT.USAGE : EXIT.OK;
    case 'version': case '--version':
      out(VERSION);
      return EXIT.OK;
    case 'connect': {
      const { values } = parseFlags(args, {
        ...CONFIG_DIR, hub: { type: 'string' }, 'api-key': { type: 'string' }, 'api-key-file': { type: 'string' }, fingerprint: { type: 'string' },
        serial: { type: 'string' }, force: { type: 'boolean' },
      });
      if (values.help) { out(CONNECT_USAGE); return EXIT.OK; }
      if (!values.hub || !values.fingerprint) {
        throw new UsageError('connect needs --hub and --fingerprint', 'usage: pi-agent connect --hub https://HOST:PORT --fingerprint SHA256 --api-key -');
      }
      const { HubUrlSchema, ApiKeyArgSchema, connect } = await import('./enroll.js');
      const hub = validate(HubUrlSchema, values.hub, '--hub');
      const given = await apiKeyFrom(values['api-key'], values['api-key-file']);
      const apiKey = validate(ApiKeyArgSchema, given.key.trim(), given.from);
      out(await connect({ hub, apiKey, fingerprint: values.fingerprint, configDir: configDirOf(values), serial: values.serial, force: values.force ?? false }));
      return EXIT.OK;
    }
    case 'run': {
      const { values } = parseFlags(args, { ...CONFIG_DIR, sim: { type: 'boolean' } });
      if (values.help) { out(RUN_USAGE); return EXIT.OK; }
      const { runDaemon } = await import('./daemon.js');
      return runDaemon({ configDir: configDirOf(values), sim: values.sim ?? false });
    }
    case 'status': {
      const { values } = parseFlags(args, CONFIG_DIR);
      if (values.help) { out(STATUS_USAGE); return EXIT.OK; }
      const { statusText } = await import('./enroll.js');
      out(statusText(configDirOf(values)));
      return EXIT.OK;
    }
    case 'disconnect': {
      const { values } = parseFlags(args, CONFIG_DIR);
      if (values.help) { out(DISCONNECT_USAGE); return EXIT.OK; }
      const { disconnect } = await import('./enroll.js');
      out(await disconnect(configDirOf(values)));
      return EXIT.OK;
    }
    case 'modules': {
      const { configDir, rest } = splitConfigDir(args);
      const { MODULES_USAGE, modulesCommand } = await import('./modules/cli.js');
      if (wantsHelp(rest)) { out(MODULES_USAGE); return EXIT.OK; }
      return modulesCommand(rest, { configDir, defaultUser: localContext(configDir).defaultUser });
    }
    case 'doctor': {
      const { configDir, rest } = splitConfigDir(args);
      const { DOCTOR_USAGE, doctorCommand } = await import('./doctor/cli.js');
      if (wantsHelp(rest)) { out(DOCTOR_USAGE); return EXIT.OK; }
      const ctx = localContext(configDir);
      return doctorCommand(rest, { configDir, hubUrl: ctx.hubUrl, defaultUser: ctx.defaultUser });
    }
    case 'gpio': {
      const { configDir, rest } = splitConfigDir(args);
      const { GPIO_USAGE, gpioCommand } = await import('./gpio/cli.js');
      if (wantsHelp(rest)) { out(GPIO_USAGE); return EXIT.OK; }
      const ctx = localContext(configDir);
      return gpioCommand(rest, { configDir, defaultUser: ctx.defaultUser, stateFile: agentPaths(configDir, ctx.stateDir).gpio });
    }
    default:
      throw new UsageError(`unknown command: ${cmd}`, 'run pi-agent --help');
  }
}

await runMain('pi-agent', main);
