// Command-line arguments: flags parsed strictly, values validated with zod, every problem a UsageError.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { z } from 'zod';
import { UsageError } from './errors.js';

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
