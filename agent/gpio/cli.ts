// Body of `pi-agent gpio [--json]` (docs/ARCHITECTURE.md, "Command lines"): the pins this Pi offers and
// their states, from the daemon's state file (<state-dir>/gpio.json); without a running daemon, the
// pins the gpio modules declare. agent/cli.ts parses --config-dir and hands the rest of argv here.
import { join } from 'node:path';
import { parseFlags } from '../../shared/args.js';
import { EXIT, UsageError } from '../../shared/errors.js';
import { type Output, STDIO } from '../cli-output.js';
import { describePin } from '../modules/cli.js';
import { formatProblem, loadContext, loadModulesDir } from '../modules/loader.js';
import { type GpioStateFile, readGpioStateFile } from './state-file.js';

export interface GpioCliContext { configDir: string; stateFile: string; defaultUser: string }

export const GPIO_USAGE = `usage: pi-agent gpio [--json] [--config-dir DIR]

  The pins this Pi offers (gpio modules), their modes and, while the daemon runs, their states.
`;

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}

type Pin = GpioStateFile['pins'][number];

/** What a set may do with the pin, as the manifest offers it. */
function offered(p: Pin): string {
  return [p.modes.join(','), p.pwm ? `${p.pwm.minHz}–${p.pwm.maxHz} Hz` : null, p.holdSec !== undefined ? `hold ${p.holdSec} s` : null, p.failSafe ? 'fail-safe' : null]
    .filter(Boolean).join('; ');
}

function stateText(s: Pin['state']): string {
  const what = s.mode === 'pwm' && s.pwm ? `pwm ${Math.round(s.pwm.duty * 1000) / 10} % at ${s.pwm.freqHz} Hz` : `${s.mode} ${s.value}`;
  const why = [s.cause, s.by ? `by ${s.by}` : null].filter(Boolean).join(' ');
  return `${what.padEnd(24)} ${why.padEnd(18)} ${new Date(s.ts).toISOString()}`;
}

export async function gpioCommand(args: string[], ctx: GpioCliContext, io: Output = STDIO): Promise<number> {
  const { values, positionals } = parseFlags(args, { json: { type: 'boolean' } }, true);
  if (values.help) { io.out(GPIO_USAGE); return EXIT.OK; }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`, GPIO_USAGE.trimEnd());
  const file = readGpioStateFile(ctx.stateFile);
  const running = file !== null && file.running && alive(file.pid);
  if (running) {
    if (values.json) { io.out(`${JSON.stringify({ running, driver: file.driver, unavailable: file.unavailable, pins: file.pins }, null, 2)}\n`); return EXIT.OK; }
    if (!file.driver) io.out(`no GPIO: ${file.unavailable ?? 'no driver'}\n`);
    else io.out(`driver: ${file.driver}\n`);
    for (const p of file.pins) io.out(`  ${String(p.bcm).padEnd(4)}${p.name.padEnd(16)} ${offered(p).padEnd(28)} ${stateText(p.state)}\n`);
    if (file.pins.length === 0 && file.driver) io.out('  no pins: list them in a gpio module (modules/gpio.json)\n');
    return EXIT.OK;
  }
  const dir = join(ctx.configDir, 'modules');
  const { modules, problems } = await loadModulesDir(dir, loadContext(ctx.defaultUser));
  for (const p of problems) io.err(`${formatProblem(p)} (not loaded)\n`);
  const pins = modules.flatMap((m) => [...m.pins.values()]).sort((a, b) => a.bcm - b.bcm);
  if (values.json) { io.out(`${JSON.stringify({ running: false, pins: pins.map(({ module: _m, ...p }) => p) }, null, 2)}\n`); return EXIT.OK; }
  io.out('the daemon is not running: the pins as declared, no states\n');
  for (const p of pins) io.out(`  ${String(p.bcm).padEnd(4)}${p.name.padEnd(16)} ${describePin(p)}\n`);
  if (pins.length === 0) io.out('  no pins: list them in a gpio module (modules/gpio.json)\n');
  return EXIT.OK;
}
