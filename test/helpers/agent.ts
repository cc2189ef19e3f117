// pi-agent for integration tests: `pi-agent connect` against a TestHub into a temporary config dir,
// then `pi-agent run --sim` as a real child process.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestHub } from './hub.js';
import { AGENT_CLI, Daemon, type RunResult, runProgram } from './process.js';

/**
 * The agent under test: dist/agent/cli.js under this Node, or — for the packaging tests — the .deb's
 * bundle (PIFLEET_TEST_AGENT_CLI) under another Node (PIFLEET_TEST_AGENT_NODE) with the unit's flags.
 */
const AGENT_NODE = process.env.PIFLEET_TEST_AGENT_NODE || process.execPath;
const AGENT = process.env.PIFLEET_TEST_AGENT_CLI || AGENT_CLI;
/** Node flags for the agent alone (the packaging tests pass the unit's), never for the hub. */
const AGENT_FLAGS = (process.env.PIFLEET_TEST_AGENT_NODE_ARGS ?? '').split(' ').filter(Boolean);

export interface AgentOptions {
  /** Merged into agent.json after connect (e.g. statsIntervalSec, defaultUser). */
  config?: Record<string, unknown>;
  /** Extra module files: name → content. */
  modules?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
}

/** Settings that make tests quick and safe: commands run as nobody, fast reconnects. */
export const TEST_AGENT_CONFIG = { defaultUser: 'nobody', statsIntervalSec: 1, reconnectMinMs: 100, reconnectMaxMs: 1000, refusedRetrySec: 30 };

export class TestAgent {
  daemon: Daemon | null = null;

  private constructor(readonly hub: TestHub, readonly serial: string, readonly configDir: string, readonly opts: AgentOptions) {}

  get stateDir(): string { return join(this.configDir, 'state'); }

  static cli(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; stdin?: string } = {}): Promise<RunResult> {
    return runProgram(AGENT_NODE, [...AGENT_FLAGS, AGENT, ...args], opts);
  }

  /** Runs `pi-agent connect` (the key on standard input, as the README shows) and applies the test settings; throws if connect fails. */
  static async connect(hub: TestHub, apiKey: string, serial: string, opts: AgentOptions = {}): Promise<TestAgent> {
    const dir = mkdtempSync(join(tmpdir(), 'pifleet-agent-'));
    const r = await TestAgent.cli(['connect', '--hub', `https://localhost:${hub.port}`, '--api-key', '-', '--fingerprint', hub.fingerprint, '--serial', serial, '--config-dir', dir], { stdin: `${apiKey}\n` });
    if (r.code !== 0) throw new Error(`pi-agent connect failed (${r.code}): ${r.stderr}`);
    const agent = new TestAgent(hub, serial, dir, opts);
    agent.setConfig({ ...TEST_AGENT_CONFIG, ...opts.config });
    agent.defuseCoreModule();
    for (const [name, content] of Object.entries(opts.modules ?? {})) agent.writeModule(name, content);
    return agent;
  }

  config(): Record<string, unknown> {
    return JSON.parse(readFileSync(join(this.configDir, 'agent.json'), 'utf8')) as Record<string, unknown>;
  }

  setConfig(patch: Record<string, unknown>): void {
    writeFileSync(join(this.configDir, 'agent.json'), JSON.stringify({ ...this.config(), ...patch }, null, 2));
  }

  /**
   * Safety on the test machine: the shipped core.json really reboots. Tests keep its ids, titles and
   * users but make each command harmless (`/bin/echo would …`).
   */
  defuseCoreModule(): void {
    const file = join(this.configDir, 'modules', 'core.json');
    const core = JSON.parse(readFileSync(file, 'utf8')) as { commands: Record<string, { run: string[] }> };
    for (const [name, c] of Object.entries(core.commands)) c.run = ['/bin/echo', `would ${name}`];
    writeFileSync(file, JSON.stringify(core, null, 2));
  }

  writeModule(name: string, content: unknown): void {
    writeFileSync(join(this.configDir, 'modules', name), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }

  async start(): Promise<Daemon> {
    this.daemon = Daemon.startProgram(AGENT_NODE, [...AGENT_FLAGS, AGENT, 'run', '--config-dir', this.configDir, '--sim'], `agent ${this.serial}`, this.opts.env);
    await this.daemon.waitForLine(/pi-agent: started/, 15_000, 0);
    return this.daemon;
  }

  cliHere(args: string[]): Promise<RunResult> {
    return TestAgent.cli([...args, '--config-dir', this.configDir], { env: this.opts.env });
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.daemon?.stop(signal);
  }

  async remove(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(this.configDir, { recursive: true, force: true });
  }
}
