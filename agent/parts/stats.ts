// The stats publisher as a part: a sample every statsIntervalSec (applied again on SIGHUP), and one at
// once whenever the link comes up.
import { topics } from '../../shared/topics.js';
import type { AgentConfig } from '../config.js';
import type { AgentContext, Part } from '../part.js';
import { StatsPublisher } from '../stats-publisher.js';
import type { StatsSampler } from '../stats.js';
import type { LinkPart } from './link.js';

export class StatsPart implements Part {
  readonly name = 'stats';
  readonly reloadable = ['statsIntervalSec'] as const;
  private readonly publisher: StatsPublisher;

  constructor(private readonly ctx: AgentContext, private readonly link: LinkPart, sampler: StatsSampler) {
    this.publisher = new StatsPublisher(sampler, (s) => link.publish(topics.stats(ctx.config.serial), s, 0, false), ctx.log.child('stats'));
  }

  start(): void {
    this.link.on('up', this.onUp);
    this.publisher.start(this.ctx.config.statsIntervalSec);
  }

  stop(): void {
    this.publisher.stop();
    this.link.off('up', this.onUp);
  }

  reload(next: AgentConfig | null): void {
    if (next) this.publisher.setInterval(next.statsIntervalSec);
  }

  private readonly onUp = () => this.publisher.kick();
}
