// The errors our programs report to a user, and the exit codes they map to.
import type { z } from 'zod';

/** Exit codes: 2 bad usage, 78 bad configuration (systemd's RestartPreventExitStatus=78 stops a crash loop), 1 other. */
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

/** Formats every zod issue as `path: message`, one per line (config files, module files). */
export function formatIssues(error: z.ZodError, prefix = ''): string[] {
  return error.issues.map((i) => `${prefix}${i.path.length ? i.path.map(String).join('.') : '(root)'}: ${i.message}`);
}
