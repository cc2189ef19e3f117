// Turns `cmd/req` payloads into one `cmd/res` each: validated, looked up in the modules in force
// (nothing else runs, whatever the hub says), queued within limits, run, logged. Each id is used once
// (seen-requests.ts): a QoS 1 redelivery is never run again — also across a restart, since the ids are
// persisted before anything runs (a `reboot` redelivered after the reboot must not reboot again) — but
// is answered again, and an id reused for another request is refused with `duplicate_id`.
import { appendFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { formatIssues } from '../shared/errors.js';
import { ensureDir } from '../shared/fs.js';
import type { Logger } from '../shared/log.js';
import { CmdRequestSchema, type CmdRequest, type CmdResult, type DoctorReport } from '../shared/schemas.js';
import { errorResult, requestIdOf } from '../shared/results.js';
import type { Doctor } from './doctor/doctor.js';
import { formatDoctorReport } from './doctor/format.js';
import { execute, type ExecOptions } from './executor.js';
import { buildArgv } from './modules/params.js';
import type { CommandSource } from './modules/registry.js';
import { DOCTOR_ID } from './modules/schema.js';
import { SeenRequests, payloadFingerprint, requestFingerprint } from './seen-requests.js';
import { monotonicMs } from './clock.js';

export interface CommandServiceOptions {
  registry: CommandSource;
  /** Holds seen-ids.json and commands.log. */
  stateDir: string;
  logger: Logger;
  maxConcurrent?: number;
  maxQueued?: number;
  /** Runs `{module:"doctor", command:"run"}`; without it that request is an unknown module. */
  doctor?: Pick<Doctor, 'run'>;
  /** Receives every doctor report (the daemon publishes it, retained, on `devices/<serial>/doctor`). */
  onDoctorReport?: (report: DoctorReport) => void;
  exec?: Omit<ExecOptions, 'signal'>;
  /** How many recent ids are remembered. */
  seenIdsMax?: number;
  /** How many of the latest results are held in memory for a redelivered request, and their JSON bytes in all. */
  heldResultsMax?: number;
  heldResultsMaxBytes?: number;
  /** commands.log is moved to commands.log.1 (replacing it) once an append would take it past this. */
  commandLogMaxBytes?: number;
}

export const SEEN_IDS_FILE = 'seen-ids.json';
export const COMMAND_LOG_FILE = 'commands.log';
export const DEFAULT_SEEN_IDS_MAX = 10_000;
// A result is at most ~130 KiB (64 KiB per stream), and a Pi Zero has 512 MB in all.
export const DEFAULT_HELD_RESULTS_MAX = 64;
export const DEFAULT_HELD_RESULTS_MAX_BYTES = 1024 * 1024;
// Two files of this at most: years of a command a minute's history would otherwise fill an SD card.
export const DEFAULT_COMMAND_LOG_MAX_BYTES = 4 * 1024 * 1024;

/** What is known of a request: all of it, or of an invalid one, its id and whatever fields had the right shape. */
type RequestInfo = Pick<CmdRequest, 'id'> & Partial<Omit<CmdRequest, 'id'>>;

interface Job {
  req: CmdRequest;
  run: (signal: AbortSignal) => Promise<CmdResult>;
  resolve: (r: CmdResult) => void;
}

export class CommandService {
  private readonly opts: CommandServiceOptions & { maxConcurrent: number; maxQueued: number };
  private readonly log: Logger;
  private readonly seen: SeenRequests;
  private readonly queue: Job[] = [];
  private readonly running = new Map<Job, { controller: AbortController; done: Promise<void> }>();
  private stopping = true;

  constructor(options: CommandServiceOptions) {
    this.opts = { maxConcurrent: 2, maxQueued: 8, ...options };
    this.log = options.logger;
    this.seen = new SeenRequests({
      file: join(options.stateDir, SEEN_IDS_FILE), logger: options.logger, maxIds: options.seenIdsMax ?? DEFAULT_SEEN_IDS_MAX,
      maxResults: options.heldResultsMax ?? DEFAULT_HELD_RESULTS_MAX, maxResultBytes: options.heldResultsMaxBytes ?? DEFAULT_HELD_RESULTS_MAX_BYTES,
    });
  }

  start(): void {
    ensureDir(this.opts.stateDir, 0o700);
    this.seen.load();
    this.stopping = false;
  }

  /** Kills what runs (its whole group), answers what waits with `shutting_down`; resolves when all answered. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const job of this.queue.splice(0)) this.finish(job.req, job.resolve, errorResult(job.req.id, 'shutting_down', 'the agent is stopping'));
    for (const { controller } of this.running.values()) controller.abort();
    await Promise.all([...this.running.values()].map((r) => r.done));
  }

  /**
   * The result to publish for this request, or null when there is none (now): no usable id, or the
   * same request is still queued or running. A redelivery gets its held result again, not a new run.
   */
  async submit(payload: Buffer): Promise<CmdResult | null> {
    let raw: unknown;
    try {
      raw = JSON.parse(payload.toString('utf8'));
    } catch {
      this.log.warn('ignored a command request that is not JSON', { bytes: payload.length });
      return null;
    }
    const parsed = CmdRequestSchema.safeParse(raw);
    if (!parsed.success) {
      const id = requestIdOf(raw);
      if (id === null) {
        this.log.warn('ignored a command request without a usable id', { problem: formatIssues(parsed.error)[0] });
        return null;
      }
      const partial = partialOf(raw, id);
      const repeated = this.repeated(partial, payloadFingerprint(payload));
      if (repeated !== undefined) return repeated;
      this.record('request', partial);
      return this.answer(partial, errorResult(id, 'invalid_request', formatIssues(parsed.error).join('; ')));
    }
    const req = parsed.data;
    const repeated = this.repeated(req, requestFingerprint(req));
    if (repeated !== undefined) return repeated;
    this.record('request', req);
    this.log.info('command request', { id: req.id, by: req.by, module: req.module, command: req.command });
    if (this.stopping) return this.answer(req, errorResult(req.id, 'shutting_down', 'the agent is stopping'));
    const job = this.prepare(req);
    if ('error' in job) return this.answer(req, job.error);
    return this.enqueue(req, job.run);
  }

  /** Looks the request up and checks its parameters; nothing outside the modules in force gets past here. */
  private prepare(req: CmdRequest): { run: Job['run'] } | { error: CmdResult } {
    if (req.module === DOCTOR_ID) {
      const doctor = this.opts.doctor;
      const modules = this.opts.registry.doctorModules();
      if (!doctor || modules.length === 0) return { error: errorResult(req.id, 'unknown_module', 'no doctor module is loaded on this Pi') };
      if (req.command !== 'run') return { error: errorResult(req.id, 'unknown_command', `the doctor has no command "${req.command}" (only "run")`) };
      if (req.params && Object.keys(req.params).length > 0) return { error: errorResult(req.id, 'invalid_params', 'the doctor takes no parameters') };
      return { run: (signal) => this.runDoctor(req, doctor, signal) };
    }
    const found = this.opts.registry.lookup(req.module, req.command);
    if (!found.ok) return { error: errorResult(req.id, found.code, found.message) };
    if (req.moduleSha256 !== undefined && req.moduleSha256 !== found.sha256) {
      return { error: errorResult(req.id, 'module_changed', `module "${req.module}" has changed on this Pi since the request was made (it asked for version ${req.moduleSha256.slice(0, 12)}…, the file in force is ${found.sha256.slice(0, 12)}…): not run; look at it again`) };
    }
    const cmd = found.command;
    const argv = buildArgv(cmd.argv, cmd.params, req.params);
    if (!argv.ok) return { error: errorResult(req.id, 'invalid_params', argv.message) };
    return {
      run: async (signal) => {
        const r = await execute({ argv: argv.argv, user: cmd.user, timeoutMs: cmd.timeoutSec * 1000 }, { ...this.opts.exec, signal });
        if (!r.ok) return { ...errorResult(req.id, 'spawn_failed', r.message), durationMs: r.durationMs };
        const result: CmdResult = {
          v: 1, id: req.id, ok: r.exitCode === 0 && !r.timedOut && !r.aborted,
          exitCode: r.exitCode, signal: r.signal, stdout: r.stdout, stderr: r.stderr, truncated: r.truncated, durationMs: r.durationMs,
        };
        if (r.timedOut) result.error = { code: 'timeout', message: `killed after ${cmd.timeoutSec} s` };
        else if (r.aborted) result.error = { code: 'shutting_down', message: 'killed: the agent is stopping' };
        return result;
      },
    };
  }

  private async runDoctor(req: CmdRequest, doctor: Pick<Doctor, 'run'>, signal: AbortSignal): Promise<CmdResult> {
    const started = monotonicMs();
    const report = await doctor.run(this.opts.registry.doctorModules(), { signal });
    try {
      this.opts.onDoctorReport?.(report);
    } catch (err) {
      this.log.error('doctor report callback failed', { error: (err as Error).message });
    }
    return {
      v: 1, id: req.id, ok: true, exitCode: 0, signal: null, stdout: formatDoctorReport(report), stderr: '',
      truncated: false, durationMs: Math.round(monotonicMs() - started),
    };
  }

  private enqueue(req: CmdRequest, run: Job['run']): Promise<CmdResult> {
    return new Promise<CmdResult>((resolve) => {
      const job: Job = { req, run, resolve };
      if (this.running.size < this.opts.maxConcurrent) this.startJob(job);
      else if (this.queue.length < this.opts.maxQueued) this.queue.push(job);
      else this.finish(req, resolve, errorResult(req.id, 'busy', `${this.running.size} commands running and ${this.queue.length} waiting; try again later`));
    });
  }

  private startJob(job: Job): void {
    const controller = new AbortController();
    const done = job.run(controller.signal)
      .catch((err: unknown) => errorResult(job.req.id, 'spawn_failed', (err as Error).message))
      .then((result) => {
        this.running.delete(job);
        this.finish(job.req, job.resolve, result);
        const next = this.stopping ? undefined : this.queue.shift();
        if (next) this.startJob(next);
      });
    this.running.set(job, { controller, done });
  }

  private answer(req: RequestInfo, result: CmdResult): CmdResult {
    this.finish(req, () => undefined, result);
    return result;
  }

  private finish(req: RequestInfo, resolve: (r: CmdResult) => void, result: CmdResult): void {
    this.seen.answered(req.id, result);
    this.record('result', req, result);
    const fields = { id: result.id, module: req.module, command: req.command, ok: result.ok, exitCode: result.exitCode, signal: result.signal, durationMs: result.durationMs, error: result.error?.code };
    if (result.ok) this.log.info('command result', fields);
    else this.log.warn('command result', { ...fields, message: result.error?.message });
    resolve(result);
  }

  // ---- ids used once -----------------------------------------------------------------------------

  /** undefined for an id seen the first time (now remembered); else what to answer (null: nothing now). */
  private repeated(req: RequestInfo, fingerprint: string): CmdResult | null | undefined {
    const s = this.seen.admit(req.id, fingerprint);
    const fields = { id: req.id, module: req.module, command: req.command, by: req.by };
    switch (s.kind) {
      case 'new':
        return undefined;
      case 'pending':
        this.log.warn('redelivered command request still queued or running; its result comes when it finishes', fields);
        return null;
      case 'answered':
        this.log.warn('redelivered command request answered again with its result, not run again', fields);
        return s.result;
      case 'forgotten':
        return this.refuseDuplicate(req, s.restarted
          ? `request ${req.id} was already received (before a restart of the agent); it is not run again`
          : `request ${req.id} was already answered and its result is no longer held; it is not run again`);
      case 'conflict':
        return this.refuseDuplicate(req, `id ${req.id} was already used for another request; send a fresh id`);
    }
  }

  /** Logged and answered, but not the id's result: a later redelivery of the original still gets its own. */
  private refuseDuplicate(req: RequestInfo, message: string): CmdResult {
    const result = errorResult(req.id, 'duplicate_id', message);
    this.log.warn('command request refused: duplicate id', { id: req.id, module: req.module, command: req.command, by: req.by, message });
    this.record('request', req);
    this.record('result', req, result);
    return result;
  }

  // ---- the agent's own command log ----------------------------------------------------------------

  private record(event: 'request' | 'result', req: RequestInfo, result?: CmdResult): void {
    const line: Record<string, unknown> = {
      ts: new Date().toISOString(), event, id: req.id, by: req.by ?? null, module: req.module ?? null, command: req.command ?? null, params: req.params ?? {},
    };
    if (req.moduleSha256) line.moduleSha256 = req.moduleSha256;
    if (result) {
      Object.assign(line, { ok: result.ok, exitCode: result.exitCode, signal: result.signal, durationMs: result.durationMs, error: result.error?.code ?? null });
    }
    const file = join(this.opts.stateDir, COMMAND_LOG_FILE);
    const text = `${JSON.stringify(line)}\n`;
    try {
      // Its size is read each time, not counted: the owner may empty or remove the file meanwhile.
      const size = sizeOf(file);
      if (size > 0 && size + Buffer.byteLength(text) > (this.opts.commandLogMaxBytes ?? DEFAULT_COMMAND_LOG_MAX_BYTES)) renameSync(file, `${file}.1`);
    } catch (err) {
      this.log.warn('cannot move the command log aside; appending to it', { error: (err as Error).message });
    }
    try {
      appendFileSync(file, text, { mode: 0o600 });
    } catch (err) {
      this.log.error('cannot append to the command log', { error: (err as Error).message });
    }
  }
}

/** The file's size; 0 when there is none. */
function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

/** What can be logged of an invalid request: only fields of the right shape. */
function partialOf(raw: unknown, id: string): RequestInfo {
  const r = raw as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v.slice(0, 128) : undefined);
  const out: RequestInfo = { id };
  const module = str(r.module);
  const command = str(r.command);
  const by = str(r.by);
  if (module !== undefined) out.module = module;
  if (command !== undefined) out.command = command;
  if (by !== undefined) out.by = by;
  return out;
}
