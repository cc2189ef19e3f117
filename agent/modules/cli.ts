// Body of `pi-agent modules [check]` (docs/ARCHITECTURE.md, "Command lines"): what this Pi allows.
// agent/cli.ts parses --config-dir and the agent config and hands the rest of argv here.
import { join } from 'node:path';
import { parseFlags } from '../../shared/args.js';
import { EXIT, UsageError } from '../../shared/errors.js';
import type { ParamSpec } from '../../shared/schemas.js';
import { type Output, STDIO } from '../cli-output.js';
import { formatProblem, loadContext, loadModulesDir, type LoadedModule, type LoadedPin } from './loader.js';

export interface ModulesContext { configDir: string; defaultUser: string }

export const MODULES_USAGE = `usage: pi-agent modules [check] [--config-dir DIR]

  pi-agent modules         what each module allows, and the user each command runs as
  pi-agent modules check   validate every file in <config-dir>/modules; exit 1 on any problem
`;

function describeParam(name: string, p: ParamSpec): string {
  if ('enum' in p) return `${name}: ${p.enum.join('|')}`;
  if ('type' in p) return `${name}: integer${p.min !== undefined || p.max !== undefined ? ` ${p.min ?? ''}..${p.max ?? ''}` : ''}`;
  return `${name}: ${p.pattern}`;
}

/** One pin of a gpio module, as `pi-agent modules` and `pi-agent gpio` show it. */
export function describePin(p: LoadedPin): string {
  const parts: string[] = [p.modes.join(',')];
  if (p.pwm) parts.push(`${p.pwm.minHz}–${p.pwm.maxHz} Hz`);
  if (p.initial !== undefined) parts.push(`initial ${p.initial}`);
  if (p.safe !== undefined) parts.push(`safe ${p.safe}`);
  if (p.holdSec !== undefined) parts.push(`hold ${p.holdSec} s`);
  if (p.failSafe) parts.push('fail-safe');
  if (p.modes.includes('in')) parts.push(`pull ${p.pull}`, `edge ${p.edge}`, `debounce ${p.debounceMs} ms`);
  return parts.join('; ');
}

function describeModules(modules: readonly LoadedModule[]): string {
  if (modules.length === 0) return 'no modules: this Pi allows no commands\n';
  const lines: string[] = [];
  for (const m of modules) {
    lines.push(`${m.id} — ${m.title}${m.kind === 'commands' ? '' : ` (${m.kind})`}    ${m.file}`);
    for (const p of m.pins.values()) lines.push(`  ${String(p.bcm).padEnd(4)}${p.name.padEnd(16)} ${describePin(p)}`);
    for (const c of m.commands.values()) {
      lines.push(`  ${c.name.padEnd(16)} as ${c.user.name.padEnd(10)} ${c.argv.join(' ')}`);
      const extra = [c.title, ...(c.confirm ? ['asks to confirm'] : []), `timeout ${c.timeoutSec} s`, ...Object.entries(c.params).map(([n, p]) => describeParam(n, p))];
      lines.push(`${' '.repeat(19)}${extra.join('; ')}`);
    }
    for (const c of m.checks) {
      lines.push(`  ${c.name.padEnd(16)} ${c.type === 'builtin' ? `built-in ${c.spec.builtin}` : `as ${c.user.name.padEnd(10)} ${c.argv.join(' ')}`}`);
    }
    if (m.commands.size === 0 && m.checks.length === 0 && m.pins.size === 0) lines.push('  (nothing enabled)');
  }
  return `${lines.join('\n')}\n`;
}

export async function modulesCommand(args: string[], ctx: ModulesContext, io: Output = STDIO): Promise<number> {
  const { values, positionals } = parseFlags(args, {}, true);
  if (values.help) { io.out(MODULES_USAGE); return EXIT.OK; }
  const [sub, ...rest] = positionals;
  if (rest.length > 0 || (sub !== undefined && sub !== 'check')) throw new UsageError(`unexpected argument "${rest[0] ?? sub}"`, MODULES_USAGE.trimEnd());
  const dir = join(ctx.configDir, 'modules');
  const { modules, problems } = await loadModulesDir(dir, loadContext(ctx.defaultUser));
  if (sub === 'check') {
    for (const p of problems) io.err(`${formatProblem(p)}\n`);
    if (problems.length > 0) return EXIT.FAILURE;
    io.out(`${modules.length} module${modules.length === 1 ? '' : 's'} OK in ${dir}\n`);
    return EXIT.OK;
  }
  io.out(describeModules(modules));
  for (const p of problems) io.err(`${formatProblem(p)} (not loaded)\n`);
  return EXIT.OK;
}
