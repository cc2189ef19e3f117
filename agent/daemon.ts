// `pi-agent run`: the daemon's parts (part.ts), started in the order listed, stopped in reverse.
//
//   StateFile    status.json for `pi-agent status`
//   Modules      what this Pi allows ─ manifest: modules, doctor
//   Link         MqttLink (wss, mTLS) ── pi-hub: presence, manifest, subscriptions, publishing
//   Doctor       the doctor's reports
//   Commands     cmd/req → cmd/res
//   Gpio         gpio/+/set → gpio/<bcm>/state, safe states ─ manifest: gpio
//   Stats        stats every statsIntervalSec
//   Renewer      the certificate, renewed at two thirds of its lifetime
//   Watchdog     sd_notify
//
// Incoming messages go through the dispatcher to the part that declared their kind; the manifest is
// what the parts declare. A new part is one more entry in the list.
//
// SIGTERM: answer or stop what runs, publish {online:false}, end the session, exit 0.
// SIGHUP: reload the modules and agent.json's stats interval; other agent.json changes are named in
// the log as needing a restart.
import { hostname } from 'node:os';
import { createLogger, type Logger } from '../shared/log.js';
import { VERSION } from '../shared/version.js';
import { type AgentConfig, agentPaths, loadAgentConfig } from './config.js';
import { Dispatcher } from './dispatcher.js';
import { readCredentials } from './identity.js';
import { assembleManifest } from './manifest.js';
import { type AgentContext, type Part, restartNeeded, startParts, stopParts } from './part.js';
import { CommandsPart } from './parts/commands.js';
import { DoctorPart } from './parts/doctor.js';
import { GpioPart } from './parts/gpio.js';
import { LinkPart } from './parts/link.js';
import { ModulesPart } from './parts/modules.js';
import { RenewerPart } from './parts/renewer.js';
import { StateFilePart } from './parts/state-file.js';
import { StatsPart } from './parts/stats.js';
import { WatchdogPart } from './parts/watchdog.js';
import { readModel } from './pi-sensors.js';
import { SimStatsSampler, systemStatsSampler } from './stats.js';

export interface RunOptions { configDir: string; sim: boolean }

export async function runDaemon(o: RunOptions, log: Logger = createLogger('pi-agent')): Promise<number> {
  const config: AgentConfig = loadAgentConfig(o.configDir);
  const paths = agentPaths(o.configDir, config.stateDir);
  const credentials = readCredentials(paths, log);
  const model = o.sim ? 'Raspberry Pi 4 Model B Rev 1.5 (simulated)' : await readModel();
  const ctx: AgentContext = { config, paths, log };

  const dispatcher = new Dispatcher(config.serial, log);
  const manifest = () => assembleManifest({ model, hostname: hostname() }, parts);
  const link = new LinkPart(ctx, { credentials, dispatcher, manifest });
  const modules = new ModulesPart(ctx, link);
  const doctor = new DoctorPart(ctx, link);
  const parts: Part[] = [
    new StateFilePart(ctx, link),
    modules,
    link,
    doctor,
    new CommandsPart(ctx, link, modules, doctor),
    new GpioPart(ctx, link, modules, o.sim),
    new StatsPart(ctx, link, o.sim ? new SimStatsSampler() : await systemStatsSampler()),
    new RenewerPart(ctx, link),
    new WatchdogPart(ctx, link),
  ];
  for (const part of parts) if (part.handlers) dispatcher.register(part.name, part.handlers);
  manifest(); // a field declared twice or by no part fails here, not at the first connect

  await startParts(parts, log);
  log.info('started', { version: VERSION, node: process.version, serial: config.serial, hub: config.hub, sim: o.sim, modules: modules.registry.manifestModules().length });

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info('stopping', { signal });
      await stopParts(parts, log);
      log.info('stopped');
      resolve(0);
    };
    process.once('SIGTERM', () => void stop('SIGTERM'));
    process.once('SIGINT', () => void stop('SIGINT'));
    process.on('SIGHUP', () => {
      if (stopping) return;
      log.info('SIGHUP: reloading agent.json and the modules');
      let next: AgentConfig | null = null;
      try {
        next = loadAgentConfig(o.configDir);
        const later = restartNeeded(parts, config, next);
        if (later.length > 0) log.warn(`agent.json: restart pi-agent to apply ${later.join(', ')}`);
      } catch (err) {
        log.error('agent.json not reloaded; keeping the current settings', { error: (err as Error).message });
      }
      for (const part of parts) part.reload?.(next);
    });
  });
}
