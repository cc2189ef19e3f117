// The certificate renewer as a part: renews at two thirds of the certificate's lifetime, then has the
// link connect with the new one.
import type { AgentContext, Part } from '../part.js';
import { CertRenewer } from '../renewer.js';
import type { LinkPart } from './link.js';

export class RenewerPart implements Part {
  readonly name = 'renewer';
  private readonly renewer: CertRenewer;

  constructor(ctx: AgentContext, link: LinkPart) {
    const { config, paths, log } = ctx;
    this.renewer = new CertRenewer(config.hub, config.serial, paths, log.child('renew'), () => link.renewed(), config.refusedRetrySec * 1000);
  }

  start(): void {
    this.renewer.start();
  }

  stop(): void {
    this.renewer.stop();
  }
}
