// GPIO until the agent has a GPIO service: no pins in the manifest, and a request to set one is logged
// and ignored. The GPIO service replaces this part in the daemon's list.
import type { TopicHandlers } from '../dispatcher.js';
import type { ManifestContribution } from '../manifest.js';
import type { AgentContext, Part } from '../part.js';

export class GpioUnavailablePart implements Part {
  readonly name = 'gpio';
  readonly handlers: TopicHandlers = {
    'gpio-set': (topic) => this.ctx.log.warn('GPIO is not available on this agent yet; request ignored', { bcm: topic.bcm }),
  };

  constructor(private readonly ctx: AgentContext) {}

  start(): void {}

  stop(): void {}

  manifest(): ManifestContribution {
    return { gpio: [] };
  }
}
