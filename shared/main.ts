// The one place a CLI catches everything: `<prog>: <message>` (and a hint) on stderr, the exit code
// of the error, a stack trace only with --debug.
import { CliError, EXIT } from './errors.js';
import { setDebug } from './log.js';

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
