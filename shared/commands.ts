// A program's subcommands as a table: each with its usage, a one-line summary and what it runs. The
// program's --help lists them; `prog group --help` the group's; `prog group cmd --help` one command's.
import { EXIT, UsageError } from './errors.js';

export interface Command {
  /** The words that name it: `['apikey', 'create']`. */
  path: string[];
  /** Its arguments after the name: `--user NAME [--name LABEL]`. */
  args: string;
  summary: string;
  /** More lines shown by its own --help. */
  details?: string;
  run(args: string[]): Promise<number>;
}

const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);

function usageLines(prog: string, commands: Command[]): string {
  const lines = commands.map((c) => [`  ${prog} ${[...c.path, c.args].filter(Boolean).join(' ')}`, c.summary] as const);
  const width = Math.min(60, Math.max(...lines.map(([u]) => u.length)));
  return lines.map(([u, s]) => (u.length > width ? `${u}\n${' '.repeat(width + 2)}${s}` : `${u.padEnd(width)}  ${s}`)).join('\n');
}

/**
 * Runs the command `argv` names. `--help` (or -h) anywhere prints the usage of what the words before
 * it name: one command, a group, or everything (`header` then `footer`).
 */
export async function dispatch(prog: string, commands: Command[], argv: string[], help: { header: string; footer: string }): Promise<number> {
  const firstFlag = argv.findIndex((a) => a.startsWith('-'));
  const words = firstFlag === -1 ? argv : argv.slice(0, firstFlag); // the command's words come first
  const wantsHelp = argv.includes('--help') || argv.includes('-h') || words[0] === 'help';
  const named = (c: Command) => c.path.every((w, i) => words[i] === w);
  const command = commands.filter(named).sort((a, b) => b.path.length - a.path.length)[0];
  if (wantsHelp) {
    if (command) {
      out(`usage:\n${usageLines(prog, [command])}${command.details ? `\n\n${command.details}` : ''}`);
      return EXIT.OK;
    }
    const group = commands.filter((c) => words[0] !== 'help' && c.path[0] === words[0]);
    out(group.length > 0 ? `usage:\n${usageLines(prog, group)}` : `${help.header}\nusage:\n${usageLines(prog, commands)}\n\n${help.footer}`);
    return EXIT.OK;
  }
  if (!command) {
    if (argv.length === 0) {
      out(`${help.header}\nusage:\n${usageLines(prog, commands)}\n\n${help.footer}`);
      return EXIT.USAGE;
    }
    const group = commands.filter((c) => c.path[0] === words[0]);
    if (group.length > 0) throw new UsageError(`unknown command: ${words.slice(0, 2).join(' ')}`, `usage:\n${usageLines(prog, group)}`);
    throw new UsageError(`unknown command: ${words[0] ?? argv[0]}`, `run ${prog} --help`);
  }
  return command.run(argv.slice(command.path.length));
}
