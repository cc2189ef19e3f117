// `pi-hub demo` (npm start): a hub on embedded defaults with one simulated Pi, on 127.0.0.1 only.
// It keeps its state in <tmpdir>/pifleet-demo-<uid>, so the login and fingerprint stay the same across
// runs. The simulated Pi gets harmless modules only (echo, id, uptime, sleep): never the shipped
// core.json, whose commands really reboot.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFlags } from '../shared/args.js';
import { ConfigError } from '../shared/errors.js';
import { ensureDir, writeFileAtomic } from '../shared/fs.js';
import { createLogger } from '../shared/log.js';
import { resolveHubConfig } from './config.js';
import { openHubData } from './data-dir.js';
import { issuedRecord } from './ca/authority.js';
import { type RunningHub, startHub } from './hub.js';
import { hashPassword, hashSecret, newApiKey } from './secrets.js';

const AGENT_CLI = fileURLToPath(new URL('../agent/cli.js', import.meta.url));
const SERIAL = 'demo-pi-0001';

const DEMO_MODULE = {
  $schema: './module.schema.json',
  id: 'demo',
  title: 'Demo commands',
  commands: {
    hello: { title: 'Say hello', run: ['/bin/echo', 'hello from the simulated Pi'] },
    whoami: { title: 'Who runs commands', run: ['/usr/bin/id'] },
    uptime: { title: 'Uptime', run: ['/usr/bin/uptime'] },
    say: { title: 'Say something', run: ['/bin/echo', '{text}'], params: { text: { pattern: '^[A-Za-z0-9 .,!?-]{1,80}$' } } },
    nap: { title: 'Sleep a while', run: ['/bin/sleep', '{sec}'], params: { sec: { type: 'integer', min: 1, max: 30 } }, timeoutSec: 40 },
  },
};

/** The simulated Pi's pins (the sim GPIO driver: no hardware), as in README's example. */
const DEMO_GPIO = {
  $schema: './module.schema.json',
  id: 'gpio', kind: 'gpio', title: 'Pins',
  pins: {
    17: { name: 'Relay', modes: ['out'], initial: 0, safe: 0, failSafe: true },
    18: { name: 'Fan', modes: ['pwm', 'out'], pwm: { freqHz: [25, 1000] }, safe: 0, holdSec: 60 },
    27: { name: 'Button', modes: ['in'], pull: 'up', debounceMs: 20 },
  },
};

function run(args: string[], what: string, stdin = ''): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AGENT_CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.end(stdin);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new ConfigError(`${what} failed: ${err.trim()}`))));
  });
}

export async function demo(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { 'data-dir': { type: 'string' }, port: { type: 'string' }, 'mqtts-port': { type: 'string' } });
  const log = createLogger('pi-hub');
  const dataDir = values['data-dir'] ?? join(tmpdir(), `pifleet-demo-${userInfo().uid}`);
  const hubDir = join(dataDir, 'hub');
  const agentDir = join(dataDir, 'pi');
  ensureDir(dataDir, 0o700);

  // The demo user, its password (kept so a second run prints the same login) and a user certificate.
  const data = await openHubData(hubDir, 'pifleet.local');
  const loginFile = join(dataDir, 'login.json');
  let login = existsSync(loginFile) ? JSON.parse(readFileSync(loginFile, 'utf8')) as { user: string; password: string } : null;
  if (!login || !data.store.users.byName(login.user)) {
    login = { user: 'demo', password: Math.random().toString(36).slice(2, 10) + Math.random().toString(36).slice(2, 6) };
    if (!data.store.users.byName('demo')) data.store.users.add('demo', await hashPassword(login.password), true);
    else data.store.users.setPassword(data.store.users.byName('demo')!.id, await hashPassword(login.password));
    writeFileAtomic(loginFile, JSON.stringify(login), 0o600);
  }
  const user = data.store.users.byName(login.user)!;
  const ca = await data.loadCa(undefined);
  const certDir = join(dataDir, 'client');
  if (!existsSync(join(certDir, 'demo.crt'))) {
    ensureDir(certDir, 0o700);
    const c = await ca.issueUser(user.id, user.name, 365 * 86_400_000);
    data.store.certs.add(issuedRecord(c, { kind: 'user', userId: user.id }));
    writeFileAtomic(join(certDir, 'demo.key'), c.keyPem, 0o600);
    writeFileAtomic(join(certDir, 'demo.crt'), c.pem, 0o644);
    writeFileAtomic(join(certDir, 'ca.crt'), ca.chainPem, 0o644);
  }
  data.store.close();

  // The hub, on the usual ports when free.
  const config = resolveHubConfig({ dataDir: hubDir, host: '127.0.0.1', port: values.port ?? '8443', mqttsPort: values['mqtts-port'] ?? '8883' });
  let hub: RunningHub;
  try {
    hub = await startHub(config, log);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    log.warn('ports 8443/8883 are taken; using free ports');
    hub = await startHub({ ...config, port: 0, mqttsPort: 0 }, log);
  }

  // The simulated Pi: connected with an API key like a real one, on every start (the hub port may change).
  const reopened = await openHubData(hubDir, 'pifleet.local');
  const k = newApiKey();
  // A provisioning key, as one would make for a real Pi: it enrolls one Pi within ten minutes.
  reopened.store.apiKeys.add(k.id, user.id, 'demo pi', await hashSecret(k.secret), { scopes: ['enroll'], uses: 1, expiresAt: Date.now() + 600_000 });
  reopened.store.close();
  await run(['connect', '--hub', `https://localhost:${hub.port}`, '--api-key', '-', '--fingerprint', hub.fingerprint,
    '--serial', SERIAL, '--config-dir', agentDir, '--force'], 'connecting the simulated Pi', k.key);
  const agentConfig = JSON.parse(readFileSync(join(agentDir, 'agent.json'), 'utf8')) as Record<string, unknown>;
  writeFileAtomic(join(agentDir, 'agent.json'), JSON.stringify({ ...agentConfig, defaultUser: userInfo().username, reconnectMaxMs: 5000 }, null, 2), 0o600);
  rmSync(join(agentDir, 'modules', 'core.json'), { force: true });
  writeFileSync(join(agentDir, 'modules', 'demo.json'), JSON.stringify(DEMO_MODULE, null, 2));
  writeFileSync(join(agentDir, 'modules', 'gpio.json'), JSON.stringify(DEMO_GPIO, null, 2));
  const agent: ChildProcess = spawn(process.execPath, [AGENT_CLI, 'run', '--sim', '--config-dir', agentDir], { stdio: ['ignore', 'inherit', 'inherit'] });

  const mq = `-h localhost -p ${hub.mqttsPort} --cafile ${join(certDir, 'ca.crt')} --cert ${join(certDir, 'demo.crt')} --key ${join(certDir, 'demo.key')}`;
  const dashboard = `https://localhost:${hub.port}/`;
  process.stdout.write(`
pifleet demo — a hub with one simulated Pi (${SERIAL}), on this machine only

  dashboard:    ${dashboard}
  login:        ${login.user} / ${login.password}
  fingerprint:  ${hub.fingerprint}
  data:         ${dataDir}

Open the dashboard and log in. The browser warns once: the hub's certificate comes from the hub's own
CA (its root has the fingerprint above; ${join(certDir, 'ca.crt')} is that CA, to trust it instead).

From a shell, as the demo user:
  watch the Pi:   mosquitto_sub ${mq} -t 'devices/#' -v
  run a command:  mosquitto_pub ${mq} -t devices/${SERIAL}/cmd/req -q 1 -m '{"v":1,"id":"c1","module":"demo","command":"hello"}'
<<<<<<< HEAD
  the devices:    curl --cacert ${join(certDir, 'ca.crt')} --cert ${join(certDir, 'demo.crt')} --key ${join(certDir, 'demo.key')} ${dashboard}api/v1/devices
=======
  switch a pin:   mosquitto_pub ${mq} -t devices/${SERIAL}/gpio/17/set -q 1 -m '{"v":1,"value":1,"id":"g1"}'
  the devices:    curl --cacert ${join(certDir, 'ca.crt')} --cert ${join(certDir, 'demo.crt')} --key ${join(certDir, 'demo.key')} ${url.replace('127.0.0.1', 'localhost')}/api/v1/devices
>>>>>>> helper-g

Connect a real Pi (serve the hub to the network with --host 0.0.0.0, then on the Pi):
  pi-hub apikey create --user ${login.user} --uses 1 --expires 1h --data-dir ${hubDir}      (on this machine)
  sudo pi-agent connect --hub https://${hostname()}:${hub.port} --fingerprint ${hub.fingerprint} --api-key -      (on the Pi: paste the key)

Ctrl-C stops the demo.
`);

  await new Promise<void>((resolve) => {
    const stop = () => {
      agent.once('exit', () => resolve());
      agent.kill('SIGTERM');
      setTimeout(() => { agent.kill('SIGKILL'); resolve(); }, 8_000).unref();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    agent.once('exit', (code) => {
      if (code !== 0) log.error('the simulated Pi stopped', { code });
      resolve();
    });
  });
  await hub.stop();
  return 0;
}
