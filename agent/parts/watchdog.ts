// sd_notify as a part (Type=notify): READY=1 the first time the link is up, STATUS= as it goes up and
// down, WATCHDOG=1 pings. Last to start, so first to stop: STOPPING=1 goes out as soon as SIGTERM does.
import type { AgentContext, Part } from '../part.js';
import { SdNotify } from '../sd-notify.js';
import type { LinkPart } from './link.js';

export class WatchdogPart implements Part {
  readonly name = 'watchdog';
  private readonly notify: SdNotify;
  private readySent = false;

  constructor(private readonly ctx: AgentContext, private readonly link: LinkPart) {
    this.notify = new SdNotify(ctx.log.child('systemd'));
  }

  start(): void {
    this.link.on('up', this.onUp);
    this.link.on('down', this.onDown);
    this.notify.startWatchdog();
  }

  stop(): void {
    this.link.off('up', this.onUp);
    this.link.off('down', this.onDown);
    this.notify.stopping();
  }

  private readonly onUp = () => {
    const text = `connected to ${this.ctx.config.hub}`;
    if (this.readySent) this.notify.status(text);
    else { this.notify.ready(text); this.readySent = true; }
  };

  private readonly onDown = () => this.notify.status('reconnecting');
}
