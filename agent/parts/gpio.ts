// GPIO as a part: the pins of the gpio modules, driven by the driver found at start (gpio/open.ts).
// Handles gpio/<bcm>/set, publishes gpio/<bcm>/state (retained; every state again when the link comes
// back, since the hub may have missed changes or forgotten them), follows the link for fail-safe pins,
// and declares the manifest's `gpio`. It comes after the link in the daemon's list, so it stops first:
// the safe states of SIGTERM go out while the link is still up.
import { join } from 'node:path';
import type { GpioState } from '../../shared/schemas.js';
import { topics } from '../../shared/topics.js';
import type { AgentConfig } from '../config.js';
import type { TopicHandlers } from '../dispatcher.js';
import { openDriver } from '../gpio/open.js';
import { GpioService } from '../gpio/service.js';
import { SoftPwm } from '../gpio/soft-pwm.js';
import { writeGpioStateFile } from '../gpio/state-file.js';
import type { ManifestContribution } from '../manifest.js';
import type { AgentContext, Part } from '../part.js';
import type { LinkPart } from './link.js';
import type { ModulesPart } from './modules.js';

const STATE_FILE_MS = 200;

export class GpioPart implements Part {
  readonly name = 'gpio';
  readonly reloadable = ['gpioFailSafeSec'] as const;
  readonly handlers: TopicHandlers = { 'gpio-set': (topic, payload) => this.onSet(topic.bcm, payload) };
  private service: GpioService | null = null;
  private unavailable: string | undefined;
  private running = false;
  private stateTimer: NodeJS.Timeout | null = null;
  private markReady!: () => void;
  /** Sets that arrive while the driver is still being opened wait for it. */
  private readonly ready = new Promise<void>((resolve) => { this.markReady = resolve; });

  constructor(private readonly ctx: AgentContext, private readonly link: LinkPart, private readonly modules: ModulesPart, private readonly sim: boolean) {}

  async start(): Promise<void> {
    const log = this.ctx.log.child('gpio');
    const opened = await openDriver({ setting: this.ctx.config.gpioDriver, sim: this.sim, simDir: join(this.ctx.paths.state, 'gpio-sim'), log });
    if (opened.ok) log.info('GPIO driver', { driver: opened.driver.name, why: opened.why });
    else {
      this.unavailable = opened.reason;
      log.warn(`no GPIO: ${opened.reason}; the pins of gpio.json are not offered, the rest of the agent works`);
    }
    const driver = opened.ok ? opened.driver : null;
    const softPwm = driver ? new SoftPwm(driver.pwmSink, (bcm, message) => log.error('software PWM stopped', { bcm, error: message })) : null;
    const service = new GpioService({
      driver, softPwm, log, unavailable: this.unavailable, failSafeSec: this.ctx.config.gpioFailSafeSec,
      publish: (bcm, state, retain) => this.publish(bcm, state, retain),
      changed: () => this.stateFileSoon(),
    });
    this.service = service;
    this.running = true;
    await service.start(this.modules.registry.pins());
    this.link.on('up', this.onUp);
    this.link.on('down', this.onDown);
    this.modules.registry.on('change', this.onModules);
    if (this.link.connected) this.onUp(); // it came up while the driver was opening
    this.markReady();
    this.link.manifestChanged();
  }

  async stop(): Promise<void> {
    this.modules.registry.off('change', this.onModules);
    this.link.off('up', this.onUp);
    this.link.off('down', this.onDown);
    this.running = false;
    await this.service?.stop();
    this.writeStateFile();
  }

  manifest(): ManifestContribution {
    return { gpio: this.service?.manifest() ?? [] };
  }

  reload(next: AgentConfig | null): void {
    if (next) this.service?.setFailSafeSec(next.gpioFailSafeSec);
  }

  private onSet(bcm: number, payload: Buffer): Promise<void> {
    return this.ready.then(() => this.service!.handleSet(bcm, payload));
  }

  /** While the link is down nothing is published: every state goes out again when it is back. */
  private publish(bcm: number, state: GpioState, retain: boolean): Promise<void> | void {
    if (!this.link.connected) return;
    return this.link.publish(topics.gpioState(this.ctx.config.serial, bcm), state, 1, retain)
      .catch((err: Error) => this.ctx.log.debug('a GPIO state was not published', { bcm, error: err.message }));
  }

  /** At most one write per STATE_FILE_MS: an input that toggles often must not fsync the SD card each time. */
  private stateFileSoon(): void {
    this.stateTimer ??= setTimeout(() => this.writeStateFile(), STATE_FILE_MS);
  }

  private writeStateFile(): void {
    if (this.stateTimer) clearTimeout(this.stateTimer);
    this.stateTimer = null;
    const s = this.service;
    if (!s) return;
    writeGpioStateFile(this.ctx.paths.gpio, {
      v: 1, pid: process.pid, driver: s.driverName, ...(this.unavailable ? { unavailable: this.unavailable } : {}),
      running: this.running, ts: Date.now(),
      pins: s.records().map(({ pin, record }) => ({
        bcm: pin.bcm, name: pin.name, modes: [...pin.modes], ...(pin.pwm ? { pwm: pin.pwm } : {}),
        ...(pin.holdSec !== undefined ? { holdSec: pin.holdSec } : {}), ...(pin.failSafe ? { failSafe: true } : {}),
        state: record,
      })),
    });
  }

  private readonly onUp = () => {
    this.service?.setLink(true);
    this.service?.republish();
  };

  private readonly onDown = () => this.service?.setLink(false);

  private readonly onModules = () => {
    void this.service?.apply(this.modules.registry.pins()).then(() => this.link.manifestChanged());
  };
}
