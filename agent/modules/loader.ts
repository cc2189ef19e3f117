// Turns module files into what the agent runs: schema-checked, users resolved, disabled entries
// gone. Every problem names the file, the JSON path and the reason (docs/ARCHITECTURE.md, "Command
// modules"); whether the last good version stays in force is the registry's business.
import { createHash } from 'node:crypto';
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { ManifestModule, ParamSpec } from '../../shared/schemas.js';
import { cachedResolver, type SystemUser, type UserLookup } from '../users.js';
import { loadedPin, parseModuleText, type BuiltinCheckDef, type LoadedPin, type PassSpec } from './schema.js';

export type { LoadedPin } from './schema.js';

export interface ModuleProblem { file: string; path: string; message: string }

export interface LoadedCommand {
  module: string;
  name: string;
  title: string;
  argv: readonly string[];
  params: Readonly<Record<string, ParamSpec>>;
  user: SystemUser;
  confirm: boolean;
  timeoutSec: number;
}

interface CheckBase { module: string; name: string; title: string }
export type LoadedCheck =
  | (CheckBase & { type: 'builtin'; spec: BuiltinCheckDef })
  | (CheckBase & { type: 'command'; argv: readonly string[]; user: SystemUser; timeoutSec: number; pass: PassSpec });

export interface LoadedModule {
  file: string;
  /** SHA-256 of the file's bytes: the version a request may name (`moduleSha256`). */
  sha256: string;
  id: string;
  title: string;
  kind: 'commands' | 'doctor' | 'gpio';
  /** Enabled commands only. */
  commands: ReadonlyMap<string, LoadedCommand>;
  /** Enabled checks only. */
  checks: readonly LoadedCheck[];
  /** A gpio module's pins, by BCM number. */
  pins: ReadonlyMap<number, LoadedPin>;
}

export type LoadResult = { ok: true; module: LoadedModule } | { ok: false; problems: ModuleProblem[] };

export interface LoadContext {
  /** The user a command runs as when it names none (agent.json `defaultUser`). */
  defaultUser: string;
  resolveUser: (name: string) => Promise<UserLookup>;
  /** The agent's own uid: only root may run commands as another user. */
  daemonUid: number;
}

export const MAX_MODULE_FILE_BYTES = 1024 * 1024;

export function loadContext(defaultUser: string, resolveUser?: (name: string) => Promise<UserLookup>): LoadContext {
  return { defaultUser, resolveUser: cachedResolver(resolveUser), daemonUid: process.getuid?.() ?? 0 };
}

/** `*.json` in the directory, sorted, without JSON Schema files (module.schema.json lives there too). */
export async function listModuleFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  return names.filter((n) => n.endsWith('.json') && !n.endsWith('.schema.json') && !n.startsWith('.')).sort().map((n) => join(dir, n));
}

async function userFor(declared: string | undefined, path: string, file: string, ctx: LoadContext, problems: ModuleProblem[]): Promise<SystemUser | null> {
  const name = declared ?? ctx.defaultUser;
  const where = declared === undefined ? `${path} (default user "${name}")` : `${path}.user`;
  const r = await ctx.resolveUser(name);
  if (!r.ok) {
    problems.push({ file, path: where, message: r.message });
    return null;
  }
  if (ctx.daemonUid !== 0 && r.user.uid !== ctx.daemonUid) {
    problems.push({ file, path: where, message: `runs as "${name}" but pi-agent is not running as root (uid ${ctx.daemonUid}), so it cannot switch to another user: run pi-agent as root or drop "user"` });
    return null;
  }
  return r.user;
}

/** Validates a module's text; `file` only labels the problems. */
export async function loadModuleText(text: string | Buffer, file: string, ctx: LoadContext): Promise<LoadResult> {
  const sha256 = createHash('sha256').update(text).digest('hex');
  const parsed = parseModuleText(typeof text === 'string' ? text : text.toString('utf8'));
  if (!parsed.ok) return { ok: false, problems: parsed.problems.map((p) => ({ file, ...p })) };
  const m = parsed.module;
  const problems: ModuleProblem[] = [];
  const commands = new Map<string, LoadedCommand>();
  const checks: LoadedCheck[] = [];
  const pins = new Map<number, LoadedPin>();
  if (m.kind === 'gpio') {
    for (const [key, p] of Object.entries(m.pins)) pins.set(Number(key), loadedPin(m.id, Number(key), p));
  } else if (m.kind === 'commands') {
    for (const [name, c] of Object.entries(m.commands)) {
      if (!c.enabled) continue; // does not exist, so its user need not either
      const user = await userFor(c.user, `commands.${name}`, file, ctx, problems);
      if (user) commands.set(name, { module: m.id, name, title: c.title, argv: c.run, params: c.params, user, confirm: c.confirm, timeoutSec: c.timeoutSec });
    }
  } else {
    for (const [name, c] of Object.entries(m.checks)) {
      if (!c.enabled) continue;
      if (c.builtin !== undefined) {
        checks.push({ module: m.id, name, title: c.title, type: 'builtin', spec: c });
        continue;
      }
      const user = await userFor(c.user, `checks.${name}`, file, ctx, problems);
      if (user) checks.push({ module: m.id, name, title: c.title, type: 'command', argv: c.run, user, timeoutSec: c.timeoutSec, pass: c.pass });
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, module: { file, sha256, id: m.id, title: m.title, kind: m.kind, commands, checks, pins } };
}

export async function loadModuleFile(file: string, ctx: LoadContext): Promise<LoadResult> {
  try {
    const st = await stat(file);
    if (!st.isFile()) return { ok: false, problems: [{ file, path: '(root)', message: 'not a regular file' }] };
    if (st.size > MAX_MODULE_FILE_BYTES) return { ok: false, problems: [{ file, path: '(root)', message: `larger than ${MAX_MODULE_FILE_BYTES} bytes` }] };
    return await loadModuleText(await readFile(file), file, ctx);
  } catch (err) {
    return { ok: false, problems: [{ file, path: '(root)', message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }] };
  }
}

/**
 * Why `module` cannot join the modules already taken (earlier files, by name): its id is taken, or
 * one of its pins is another file's. Empty when it can.
 */
export function conflictProblems(module: LoadedModule, taken: Iterable<LoadedModule>): ModuleProblem[] {
  const problems: ModuleProblem[] = [];
  for (const other of taken) {
    if (other.id === module.id) problems.push({ file: module.file, path: 'id', message: `module id "${module.id}" is already used by ${basename(other.file)}` });
    for (const bcm of module.pins.keys()) {
      if (other.pins.has(bcm)) problems.push({ file: module.file, path: `pins.${bcm}`, message: `pin ${bcm} is already declared by ${basename(other.file)}: a pin belongs to one file` });
    }
  }
  return problems;
}

/** Loads a whole directory once, without any previous state (`pi-agent modules check`, `pi-agent doctor`). */
export async function loadModulesDir(dir: string, ctx: LoadContext): Promise<{ modules: LoadedModule[]; problems: ModuleProblem[] }> {
  let files: string[];
  try {
    files = await listModuleFiles(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // No directory means no modules, as for the daemon; only an unreadable one is a problem.
    if (code === 'ENOENT') return { modules: [], problems: [] };
    return { modules: [], problems: [{ file: dir, path: '(root)', message: `cannot read the modules directory: ${code ?? (err as Error).message}` }] };
  }
  const modules: LoadedModule[] = [];
  const problems: ModuleProblem[] = [];
  for (const file of files) {
    const r = await loadModuleFile(file, ctx);
    if (!r.ok) { problems.push(...r.problems); continue; }
    const conflicts = conflictProblems(r.module, modules);
    if (conflicts.length > 0) problems.push(...conflicts);
    else modules.push(r.module);
  }
  return { modules, problems };
}

/** A commands or doctor module as the manifest lists it (a gpio module's pins go to the manifest's `gpio`). */
export function toManifestModule(m: LoadedModule & { kind: 'commands' | 'doctor' }): ManifestModule {
  return {
    id: m.id,
    title: m.title,
    kind: m.kind,
    file: basename(m.file),
    sha256: m.sha256,
    commands: [...m.commands.values()].map((c) => ({
      name: c.name, title: c.title, user: c.user.name, confirm: c.confirm, timeoutSec: c.timeoutSec, params: { ...c.params }, run: [...c.argv],
    })),
    checks: m.checks.map((c) => ({ name: c.name, title: c.title })),
  };
}

export function formatProblem(p: ModuleProblem): string {
  return `${p.file}: ${p.path}: ${p.message}`;
}

