// What every command line of ours shares: argument parsing that refuses unknown flags, the error
// classes that map to exit codes, and the one place that turns a failure into one line on stderr.
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { z } from 'zod';
import { setDebug } from './log.js';

/** Exit codes (STYLE.md): 2 bad usage, 78 bad configuration (RestartPreventExitStatus=78), 1 other. */
export const EXIT = { OK: 0, FAILURE: 1, USAGE: 2, CONFIG: 78 } as const;

export class CliError extends Error {
  constructor(message: string, readonly exitCode: number = EXIT.FAILURE, readonly hint?: string) {
    super(message);
  }
}
export class UsageError extends CliError {
  constructor(message: string, hint?: string) { super(message, EXIT.USAGE, hint); }
}
export class ConfigError extends CliError {
  constructor(message: string, hint?: string) { super(message, EXIT.CONFIG, hint); }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses flags strictly: an unknown flag or a missing value is a UsageError, never a stack trace. */
export function parseFlags<O extends Options>(args: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' }, debug: { type: 'boolean' } }, strict: true, allowPositionals });
  } catch (err) {
    const msg = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new UsageError(msg.replace(/^Unknown option/, 'unknown option'));
  }
}

/** Validates parsed values with zod and reports the first problem as `--flag: reason`. */
export function validate<T extends z.ZodType>(schema: T, value: unknown, what = 'argument'): z.infer<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = issue.path.length > 0 ? issue.path.map(String).join('.') : what;
  throw new UsageError(`${path.startsWith('-') || what !== 'argument' ? path : `--${path}`}: ${issue.message}`);
}

/** Formats every zod issue as `path: message`, one per line (config files, module files). */
export function formatIssues(error: z.ZodError, prefix = ''): string[] {
  return error.issues.map((i) => `${prefix}${i.path.length ? i.path.map(String).join('.') : '(root)'}: ${i.message}`);
}

/**
 * The only catch-all: runs a CLI, prints `<prog>: <message>` (and a hint) on failure and sets the
 * exit code. A stack trace only with --debug.
 */
export async function runMain(prog: string, main: (argv: string[]) => Promise<number | void>): Promise<void> {
  const argv = process.argv.slice(2);
  const debug = argv.includes('--debug');
  if (debug) setDebug(true);
  try {
    const code = await main(argv);
    if (typeof code === 'number') process.exitCode = code;
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`${prog}: ${err.message}\n`);
      if (err.hint) process.stderr.write(`${err.hint}\n`);
      process.exitCode = err.exitCode;
    } else {
      const e = err as NodeJS.ErrnoException;
      process.stderr.write(`${prog}: ${e?.message ?? String(err)}\n`);
      process.exitCode = EXIT.FAILURE;
    }
    if (debug && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  }
}

/** A file the user named: its text, or a CliError naming it and why it cannot be read. */
export function readTextFile(path: string, what = 'file', exitCode: number = EXIT.CONFIG): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, exitCode);
  }
}

/** Reads a JSON configuration file and validates it; any problem is a ConfigError naming the file. */
export function readConfigJson<T extends z.ZodType>(file: string, schema: T): z.infer<T> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${file}: ${(err as Error).message}`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) throw new ConfigError(formatIssues(r.error, `${file}: `).join('\n'));
  return r.data;
}

/** Reads all of stdin as text (for --password-stdin). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
