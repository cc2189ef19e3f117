// What a user hands our programs to read: named files, JSON configuration, standard input. Every
// problem is a CliError that names the file and why.
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { CliError, ConfigError, EXIT, formatIssues } from './errors.js';

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

/** Reads all of stdin as text (--password-stdin, an API key given as `-`). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * One line of secret input: typed at a terminal without echo, after `prompt` on stderr, or the first
 * line of what is piped in. Nothing of it shows on screen, in the shell history or in `ps`.
 */
export async function readSecretLine(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return (await readStdin()).split(/\r?\n/)[0] ?? '';
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  try {
    return await new Promise<string>((resolve, reject) => {
      let line = '';
      const onData = (chunk: string) => {
        for (const c of chunk) {
          if (c === '\r' || c === '\n') { stdin.off('data', onData); resolve(line); return; }
          if (c === '\u0003') { stdin.off('data', onData); reject(new CliError('cancelled', EXIT.FAILURE)); return; }
          if (c === '\u007f' || c === '\b') line = line.slice(0, -1);
          else line += c;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write('\n');
  }
}
