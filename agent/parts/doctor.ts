// The doctor as a part: the Doctor that `{module:"doctor", command:"run"}` runs (through the command
// service, with its queue and ids), and its reports, published retained on devices/<serial>/doctor.
import type { DoctorReport } from '../../shared/schemas.js';
import { topics } from '../../shared/topics.js';
import { Doctor } from '../doctor/doctor.js';
import type { AgentContext, Part } from '../part.js';
import type { LinkPart } from './link.js';

export class DoctorPart implements Part {
  readonly name = 'doctor';
  readonly doctor: Doctor;

  constructor(private readonly ctx: AgentContext, private readonly link: LinkPart) {
    this.doctor = new Doctor({ configDir: ctx.paths.dir, hubUrl: ctx.config.hub, logger: ctx.log.child('doctor') });
  }

  start(): void {}

  stop(): void {}

  /** Published when the link is up or back; a report after the link stopped is dropped. */
  publish(report: DoctorReport): void {
    void this.link.publish(topics.doctor(this.ctx.config.serial), report, 1, true).catch(() => {});
  }
}
