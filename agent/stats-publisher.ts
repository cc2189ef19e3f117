// Publishes a validated stats sample every `intervalSec` while connected. Samples never overlap: a
// slow sample (a network mount's statfs may take its 2 s) delays the next instead of piling up.
import type { Logger } from '../shared/log.js';
import { StatsSchema, type Stats } from '../shared/schemas.js';
import type { StatsSampler } from './stats.js';

export class StatsPublisher {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private intervalMs = 5_000;
  private inFlight = false;

  constructor(
    private readonly sampler: StatsSampler,
    private readonly publish: (stats: Stats) => Promise<void>,
    private readonly log: Logger,
  ) {}

  start(intervalSec: number): void {
    this.intervalMs = intervalSec * 1000;
    this.running = true;
    this.schedule(0);
  }

  /** A sample now (e.g. when the link comes up: a dashboard should not wait a whole interval). */
  kick(): void {
    if (this.running) this.schedule(0);
  }

  setInterval(intervalSec: number): void {
    this.intervalMs = intervalSec * 1000;
    if (this.running) this.schedule(this.intervalMs);
  }

  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    if (this.inFlight) return; // the sample under way reschedules when it is done
    this.inFlight = true;
    const started = Date.now();
    try {
      const r = StatsSchema.safeParse(await this.sampler.sample());
      if (r.success) await this.publish(r.data);
      else this.log.error('a stats sample failed its schema; not published', { problem: r.error.issues[0]?.message });
    } catch (err) {
      this.log.warn('stats not published', { error: (err as Error).message });
    }
    this.inFlight = false;
    if (this.running) this.schedule(Math.max(0, this.intervalMs - (Date.now() - started)));
  }
}
