// The daemon's long-running parts, as zigbee2mqtt's extensions: a constructor that only keeps what it
// is given, start() and stop(). They start in the order listed and stop in reverse, so a part can count
// on those before it: the link is up before results are published, and still up while the commands
// in hand are answered at SIGTERM.
import type { Logger } from '../shared/log.js';
import type { AgentConfig, AgentPaths } from './config.js';
import type { TopicHandlers } from './dispatcher.js';
import type { ManifestContribution } from './manifest.js';

export interface Part {
  /** Names the part in the log. */
  readonly name: string;
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
  /** What the part adds to devices/<serial>/manifest (manifest.ts). */
  manifest?(): ManifestContribution;
  /** The kinds of message the part handles (dispatcher.ts). */
  readonly handlers?: TopicHandlers;
  /** The agent.json settings the part applies on SIGHUP; a change to any other needs a restart. */
  readonly reloadable?: readonly (keyof AgentConfig)[];
  /** SIGHUP, with agent.json read again, or null when it could not be (keep the current settings). */
  reload?(next: AgentConfig | null): void;
}

/** What every part may use; made once by the daemon. `config` is agent.json as it was at start. */
export interface AgentContext {
  readonly config: AgentConfig;
  readonly paths: AgentPaths;
  readonly log: Logger;
}

/** Starts the parts in order; when one fails, those already started stop (in reverse) and the error propagates. */
export async function startParts(parts: readonly Part[], log: Logger): Promise<void> {
  for (const [i, part] of parts.entries()) {
    try {
      await part.start();
    } catch (err) {
      await stopParts(parts.slice(0, i), log);
      throw err;
    }
  }
}

/** Stops the parts in reverse order; one that fails to stop is logged, and the others still stop. */
export async function stopParts(parts: readonly Part[], log: Logger): Promise<void> {
  for (const part of [...parts].reverse()) {
    try {
      await part.stop();
    } catch (err) {
      log.error(`${part.name} did not stop cleanly`, { error: (err as Error).message });
    }
  }
}

/** The agent.json settings that changed from `current` to `next` and that no part applies without a restart. */
export function restartNeeded(parts: readonly Part[], current: AgentConfig, next: AgentConfig): (keyof AgentConfig)[] {
  const live = new Set(parts.flatMap((p) => p.reloadable ?? []));
  return (Object.keys(next) as (keyof AgentConfig)[])
    .filter((k) => !live.has(k) && JSON.stringify(next[k]) !== JSON.stringify(current[k]));
}
