// The module registry as a part: what this Pi allows, reloaded on SIGHUP and when a file changes; it
// declares the manifest's modules and whether the doctor has checks to run.
import { ModuleRegistry } from '../modules/registry.js';
import type { ManifestContribution } from '../manifest.js';
import type { AgentContext, Part } from '../part.js';
import type { LinkPart } from './link.js';

export class ModulesPart implements Part {
  readonly name = 'modules';
  readonly registry: ModuleRegistry;

  constructor(private readonly ctx: AgentContext, private readonly link: LinkPart) {
    this.registry = new ModuleRegistry({ modulesDir: ctx.paths.modules, defaultUser: ctx.config.defaultUser, logger: ctx.log.child('modules') });
  }

  async start(): Promise<void> {
    this.registry.on('change', this.onChange);
    await this.registry.start();
  }

  stop(): void {
    this.registry.stop();
    this.registry.off('change', this.onChange);
  }

  manifest(): ManifestContribution {
    return { modules: this.registry.manifestModules(), doctor: this.registry.hasDoctor() };
  }

  reload(): void {
    void this.registry.reload();
  }

  private readonly onChange = () => {
    this.ctx.log.info('modules changed; publishing the manifest', { modules: this.registry.manifestModules().map((m) => m.id).join(',') });
    this.link.manifestChanged();
  };
}
