// `pi-hub serve`: the hub itself, until SIGTERM or SIGINT.
import { parseFlags } from '../../shared/args.js';
import type { Command } from '../../shared/commands.js';
import { ConfigError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import { resolveHubConfig } from '../config.js';
import { DATA_DIR } from './common.js';

export const serveCommands: Command[] = [{
  path: ['serve'],
  args: '[--data-dir DIR] [--host H] [--port N] [--mqtts-port N] [--client-auth none|want|need] [--cluster redis://HOST:PORT]',
  summary: 'run the hub (systemd runs this)',
  details: 'Settings: flags, then PI_HUB_* environment variables, then <data-dir>/hub.json (docs/ARCHITECTURE.md, "Command lines").\n'
    + '--cluster: several nodes on one data directory share sessions, retained messages and routing through this Redis.',
  async run(args) {
    const { values } = parseFlags(args, {
      ...DATA_DIR, host: { type: 'string' }, port: { type: 'string' }, 'mqtts-port': { type: 'string' }, 'client-auth': { type: 'string' }, cluster: { type: 'string' },
    });
    const config = resolveHubConfig({
      dataDir: values['data-dir'], host: values.host, port: values.port, mqttsPort: values['mqtts-port'], clientAuth: values['client-auth'], cluster: values.cluster,
    });
    const { startHub } = await import('../hub.js');
    const log = createLogger('pi-hub');
    let hub: Awaited<ReturnType<typeof startHub>>;
    try {
      hub = await startHub(config, log);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EADDRINUSE') throw new ConfigError(`cannot listen: address in use (${e.message.replace(/^listen EADDRINUSE: address already in use /, '')})`);
      if (e.code === 'EACCES' && e.syscall === 'listen') throw new ConfigError(`cannot listen: permission denied (${e.message})`);
      throw err;
    }
    await new Promise<void>((resolveStop) => {
      const stop = (signal: string) => {
        log.info('stopping', { signal });
        hub.stop().then(resolveStop, resolveStop);
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    return 0;
  },
}, {
  path: ['demo'],
  args: '[--data-dir DIR] [--port N] [--mqtts-port N]',
  summary: 'a hub and one simulated Pi on 127.0.0.1, on embedded defaults (npm start)',
  async run(args) {
    const { demo } = await import('../demo.js');
    return demo(args);
  },
}];
