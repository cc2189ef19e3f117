// Body of `pi-agent doctor` (docs/ARCHITECTURE.md, "Command lines"): the checks of the doctor modules, run
// here. agent/cli.ts parses --config-dir and the agent config and hands the rest of argv here.
import { join } from 'node:path';
import { parseFlags } from '../../shared/args.js';
import { EXIT, UsageError } from '../../shared/errors.js';
import { type Output, STDIO } from '../cli-output.js';
import { formatProblem, loadContext, loadModulesDir } from '../modules/loader.js';
import { defaultDoctorModule } from './builtins.js';
import { Doctor } from './doctor.js';
import { formatDoctorReport } from './format.js';

export interface DoctorContext { configDir: string; hubUrl: string | null; defaultUser: string }

export const DOCTOR_USAGE = `usage: pi-agent doctor [--json] [--config-dir DIR]

  Runs the checks of the doctor modules on this Pi and prints a table; exit 1 if a check failed.
`;

export async function doctorCommand(args: string[], ctx: DoctorContext, io: Output = STDIO): Promise<number> {
  const { values, positionals } = parseFlags(args, { json: { type: 'boolean' } }, true);
  if (values.help) { io.out(DOCTOR_USAGE); return EXIT.OK; }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`, DOCTOR_USAGE.trimEnd());
  const dir = join(ctx.configDir, 'modules');
  const { modules, problems } = await loadModulesDir(dir, loadContext(ctx.defaultUser));
  for (const p of problems) io.err(`${formatProblem(p)} (not loaded)\n`);
  let doctors = modules.filter((m) => m.kind === 'doctor');
  if (doctors.length === 0) {
    io.err(`no doctor module in ${dir}: running the built-in checks\n`);
    doctors = [defaultDoctorModule()];
  }
  const report = await new Doctor({ configDir: ctx.configDir, hubUrl: ctx.hubUrl }).run(doctors);
  io.out(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatDoctorReport(report));
  return report.ok ? EXIT.OK : EXIT.FAILURE;
}
