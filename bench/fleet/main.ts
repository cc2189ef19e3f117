// The fleet section alone: `node dist/bench/fleet/main.js` (BENCH_FLEET=10000 … as in npm run bench).
// Runs from dist/ as it is (no snapshot, no private namespace), brokers pinned as in the bench.
import { prepareFixture, removeFixture } from '../fixture.js';
import { pinGenerator } from '../isolate.js';
import { OptionsError, parseOptions } from '../options.js';
import { prepareFleet, runFleet } from './fleet.js';
import { type FleetOptions, parseFleetOptions } from './options.js';
import { renderFleet } from './report.js';

async function main(): Promise<number> {
  let b: ReturnType<typeof parseOptions>;
  let o: FleetOptions;
  try {
    b = parseOptions(process.argv.slice(2), process.env);
    if (!b) return 0;
    o = parseFleetOptions(process.env, b.quick, (m) => new OptionsError(m));
  } catch (err) {
    if (!(err instanceof OptionsError)) throw err;
    process.stderr.write(`fleet: ${err.message} (BENCH_* settings: npm run bench -- --help)\n`);
    return 2;
  }
  const pin = pinGenerator();
  const f = await prepareFixture(0);
  let stopping = false;
  process.on('SIGINT', () => { stopping = true; });
  try {
    const t0 = Date.now();
    const fleet = await prepareFleet(f, o.size);
    process.stderr.write(`fleet: ${o.size} Pis enrolled in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    const { results, skipped } = await runFleet(f, fleet, o, b, pin, (s) => process.stderr.write(s + '\n'), () => stopping);
    process.stdout.write(renderFleet(results, skipped) + '\n');
    if (process.env.BENCH_OUT) (await import('node:fs')).writeFileSync(process.env.BENCH_OUT, JSON.stringify({ options: o, results, skipped }, null, 2));
    return 0;
  } finally {
    removeFixture(f);
  }
}

main().then((c) => process.exit(c), (err: Error) => { process.stderr.write(`fleet: ${err.stack ?? err.message}\n`); process.exit(1); });
