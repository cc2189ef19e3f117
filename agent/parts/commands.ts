// The command service as a part: handles `cmd/req` and publishes each result on `cmd/res/<id>`. At
// stop, what runs is stopped and what waits is answered, while the link (started before) is still up.
import { type CmdResult } from '../../shared/schemas.js';
import { topics } from '../../shared/topics.js';
import { CommandService } from '../commands.js';
import type { TopicHandlers } from '../dispatcher.js';
import type { AgentContext, Part } from '../part.js';
import type { DoctorPart } from './doctor.js';
import type { LinkPart } from './link.js';
import type { ModulesPart } from './modules.js';

export class CommandsPart implements Part {
  readonly name = 'commands';
  readonly handlers: TopicHandlers = { 'cmd-req': (_topic, payload) => this.onRequest(payload) };
  private readonly service: CommandService;

  constructor(private readonly ctx: AgentContext, private readonly link: LinkPart, modules: ModulesPart, doctor: DoctorPart) {
    this.service = new CommandService({
      registry: modules.registry,
      stateDir: ctx.paths.state,
      logger: ctx.log.child('commands'),
      maxConcurrent: ctx.config.maxConcurrent,
      maxQueued: ctx.config.maxQueued,
      doctor: doctor.doctor,
      onDoctorReport: (report) => doctor.publish(report),
    });
  }

  start(): void {
    this.service.start();
  }

  /** Every request in hand gets its result before the link goes offline. */
  stop(): Promise<void> {
    return this.service.stop();
  }

  private onRequest(payload: Buffer): void {
    const serial = this.ctx.config.serial;
    void this.service.submit(payload).then((result: CmdResult | null) => {
      if (result) return this.link.publish(topics.cmdRes(serial, result.id), result, 1, false);
    }).catch((err: Error) => this.ctx.log.error('cannot publish a command result', { error: err.message }));
  }
}
