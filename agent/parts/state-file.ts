// status.json for `pi-agent status`: this daemon's pid, and whether and since when it is connected.
// First to start and last to stop, so the file says "not connected" before and after everything else.
import { ensureDir } from '../../shared/fs.js';
import { writeDaemonState } from '../identity.js';
import type { AgentContext, Part } from '../part.js';
import type { LinkPart } from './link.js';

export class StateFilePart implements Part {
  readonly name = 'state';

  constructor(private readonly ctx: AgentContext, private readonly link: LinkPart) {}

  start(): void {
    ensureDir(this.ctx.paths.state, 0o700);
    this.link.on('up', this.onUp);
    this.link.on('down', this.onDown);
    this.write(false);
  }

  stop(): void {
    this.link.off('up', this.onUp);
    this.link.off('down', this.onDown);
    this.write(false);
  }

  private write(connected: boolean): void {
    const { config, paths } = this.ctx;
    writeDaemonState(paths, { pid: process.pid, connected, since: Date.now(), hub: config.hub, serial: config.serial });
  }

  private readonly onUp = () => this.write(true);
  private readonly onDown = () => this.write(false);
}
