// The doctor as a part: the Doctor that `{module:"doctor", command:"run"}` runs (through the command
// service, with its queue and ids), and its reports, published retained on devices/<serial>/doctor.
import type { DoctorReport } from '../../shared/schemas.js';
import { topics } from '../../shared/topics.js';
import type { Doctor } from '../doctor/doctor.js';
import type { AgentContext, Part } from '../part.js';
import type { LinkPart } from './link.js';

export class DoctorPart implements Part {
  readonly name = 'doctor';
  /** The doctor's code is loaded at its first run: most days nobody asks, and the daemon holds less. */
  readonly doctor: Pick<Doctor, 'run'> = { run: async (modules, o) => (await this.load()).run(modules, o) };
  private loaded: Promise<Doctor> | null = null;

  constructor(private readonly ctx: AgentContext, private readonly link: LinkPart) {}

  private load(): Promise<Doctor> {
    const { paths, config, log } = this.ctx;
    this.loaded ??= import('../doctor/doctor.js').then(({ Doctor }) => new Doctor({ configDir: paths.dir, hubUrl: config.hub, logger: log.child('doctor') }));
    return this.loaded;
  }

  start(): void {}

  stop(): void {}

  /** Published when the link is up or back; a report after the link stopped is dropped. */
  publish(report: DoctorReport): void {
    void this.link.publish(topics.doctor(this.ctx.config.serial), report, 1, true).catch(() => {});
  }
}
