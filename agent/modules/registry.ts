// The effective set of modules: loaded from <config-dir>/modules, reloaded on SIGHUP (reload())
// and when a file changes (fs.watch, debounced). A file that turns bad is reported and its last
// good version stays in force; a removed file removes its module (docs/ARCHITECTURE.md, "Command modules").
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import type { ManifestModule } from '../../shared/schemas.js';
import type { Logger } from '../../shared/log.js';
import type { UserLookup } from '../users.js';
import {
  conflictProblems, listModuleFiles, loadContext, loadModuleFile, toManifestModule,
  type LoadedCommand, type LoadedModule, type LoadedPin, type ModuleProblem,
} from './loader.js';

export interface ModuleRegistryOptions {
  modulesDir: string;
  defaultUser: string;
  logger: Logger;
  /** Quiet time after the last change event before reloading (editors write in several steps). */
  debounceMs?: number;
  /** For tests; defaults to `getent passwd`. */
  resolveUser?: (name: string) => Promise<UserLookup>;
}

export type CommandLookup =
  | { ok: true; command: LoadedCommand; sha256: string }
  | { ok: false; code: 'unknown_module' | 'unknown_command'; message: string };

/** What the command service needs from the registry (an interface, so tests can stub it). */
export interface CommandSource {
  lookup(module: string, command: string): CommandLookup;
  doctorModules(): LoadedModule[];
}

type Events = { change: [] };

export class ModuleRegistry extends EventEmitter<Events> implements CommandSource {
  private readonly opts: Required<Omit<ModuleRegistryOptions, 'resolveUser'>> & Pick<ModuleRegistryOptions, 'resolveUser'>;
  /** file → the version in force (the last good one). */
  private readonly inForce = new Map<string, LoadedModule>();
  private readonly currentProblems = new Map<string, ModuleProblem[]>();
  private effective: LoadedModule[] = [];
  private fingerprint = '[]';
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private pending: Promise<void> | null = null;
  private stopped = true;

  constructor(options: ModuleRegistryOptions) {
    super();
    this.opts = { debounceMs: 200, ...options };
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.reload();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.watcher?.close();
    this.watcher = null;
  }

  /** Re-reads every file (SIGHUP). Concurrent calls coalesce into at most one more pass. */
  reload(): Promise<void> {
    if (this.running) {
      this.pending ??= this.running.then(() => {
        this.pending = null;
        return this.reload();
      });
      return this.pending;
    }
    this.running = this.pass().finally(() => { this.running = null; });
    return this.running;
  }

  /** Every enabled command and check in force, for the manifest (GPIO pins have their own field). */
  manifestModules(): ManifestModule[] {
    return this.effective.filter((m): m is LoadedModule & { kind: 'commands' | 'doctor' } => m.kind !== 'gpio').map(toManifestModule);
  }

  /** The GPIO pins in force, by BCM number. */
  pins(): LoadedPin[] {
    return this.effective.flatMap((m) => [...m.pins.values()]).sort((a, b) => a.bcm - b.bcm);
  }

  /** Whether `{module:"doctor", command:"run"}` has anything to run. */
  hasDoctor(): boolean {
    return this.effective.some((m) => m.kind === 'doctor');
  }

  doctorModules(): LoadedModule[] {
    return this.effective.filter((m) => m.kind === 'doctor');
  }

  modules(): readonly LoadedModule[] {
    return this.effective;
  }

  /** The problems of the last pass, per file (a file listed here may still be in force: its last good version). */
  problems(): ModuleProblem[] {
    return [...this.currentProblems.values()].flat();
  }

  lookup(module: string, command: string): CommandLookup {
    const m = this.effective.find((x) => x.id === module);
    if (!m) return { ok: false, code: 'unknown_module', message: `this Pi has no module "${module}"` };
    const c = m.commands.get(command);
    if (!c) return { ok: false, code: 'unknown_command', message: `module "${module}" has no command "${command}" (or it is disabled)` };
    return { ok: true, command: c, sha256: m.sha256 };
  }

  private async pass(): Promise<void> {
    if (this.stopped) return;
    const log = this.opts.logger;
    this.ensureWatcher();
    let files: string[];
    try {
      files = await listModuleFiles(this.opts.modulesDir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A missing directory means no modules; anything else keeps what is in force.
      if (code !== 'ENOENT') {
        log.error('cannot read the modules directory; keeping the modules in force', { dir: this.opts.modulesDir, error: code ?? (err as Error).message });
        return;
      }
      log.warn('no modules directory: nothing is allowed', { dir: this.opts.modulesDir });
      files = [];
    }
    const ctx = loadContext(this.opts.defaultUser, this.opts.resolveUser);
    const taken = new Map<string, LoadedModule>();
    const present = new Set(files);
    for (const file of [...this.inForce.keys()]) {
      if (!present.has(file)) {
        log.info('module file removed', { file, module: this.inForce.get(file)!.id });
        this.inForce.delete(file);
      }
    }
    this.currentProblems.clear();
    for (const file of files) {
      const r = await loadModuleFile(file, ctx);
      let problems: ModuleProblem[] = r.ok ? [] : r.problems;
      let next: LoadedModule | undefined = r.ok ? r.module : undefined;
      const conflicts = next ? conflictProblems(next, taken.values()) : [];
      if (conflicts.length > 0) {
        problems = conflicts;
        next = undefined;
      }
      if (!next) {
        const last = this.inForce.get(file);
        next = last && conflictProblems(last, taken.values()).length === 0 ? last : undefined;
        for (const p of problems) log.error('module file rejected', { file: p.file, path: p.path, reason: p.message });
        if (last) log.warn('keeping the last good version of the module', { file, module: last.id });
        this.currentProblems.set(file, problems);
      }
      if (next) {
        taken.set(next.id, next);
        this.inForce.set(file, next);
      } else {
        this.inForce.delete(file);
      }
    }
    this.effective = [...taken.values()];
    const fp = fingerprintOf(this.effective);
    if (fp !== this.fingerprint) {
      this.fingerprint = fp;
      log.info('modules in force', { modules: this.effective.map((m) => m.id).join(',') || '(none)' });
      if (!this.stopped) this.emit('change');
    }
  }

  private ensureWatcher(): void {
    if (this.watcher || this.stopped) return;
    try {
      // Not persistent: the registry alone must not keep the process alive.
      this.watcher = watch(this.opts.modulesDir, { persistent: false }, () => this.schedule());
      this.watcher.on('error', (err) => {
        this.opts.logger.warn('stopped watching the modules directory; reload with SIGHUP', { dir: this.opts.modulesDir, error: err.message });
        this.watcher?.close();
        this.watcher = null;
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        this.opts.logger.warn('cannot watch the modules directory; reload with SIGHUP', { dir: this.opts.modulesDir, error: (err as Error).message });
      }
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.reload();
    }, this.opts.debounceMs);
  }
}

/** Everything that changes what may run or what the manifest shows. */
function fingerprintOf(modules: readonly LoadedModule[]): string {
  return JSON.stringify(modules.map((m) => ({
    id: m.id, title: m.title, kind: m.kind, sha256: m.sha256,
    commands: [...m.commands.values()],
    checks: m.checks,
    pins: [...m.pins.values()],
  })));
}
