// The request ids this agent has received, each with a fingerprint of its request, and the results of
// the most recent ones. An id is used once: a QoS 1 redelivery (same fingerprint) is never run again —
// its held result is sent again, since the requester may have missed it — and an id reused for another
// request is refused. The ids and fingerprints are persisted before anything runs, so a `reboot`
// redelivered after the reboot does not run again; the results live only in memory, within a budget.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from '../shared/log.js';
import { writeFileAtomic } from '../shared/fs.js';
import type { CmdRequest, CmdResult } from '../shared/schemas.js';
import { REQUEST_ID_RE } from '../shared/topics.js';

export interface SeenRequestsOptions {
  /** seen-ids.json */
  file: string;
  logger: Logger;
  /** How many ids are remembered (oldest forgotten first). */
  maxIds: number;
  /** How many of the latest results are held for a re-send, and how many bytes of JSON at most in all. */
  maxResults: number;
  maxResultBytes: number;
}

/** What an id's arrival means. */
export type Sighting =
  | { kind: 'new' } // remembered now: run it
  | { kind: 'pending' } // the same request, queued or running: its one result comes when it finishes
  | { kind: 'answered'; result: CmdResult } // the same request, answered: send this again
  | { kind: 'forgotten'; restarted: boolean } // the same request (as far as is known), result no longer held
  | { kind: 'conflict' }; // another request under an id already used

const FINGERPRINT_RE = /^[0-9a-f]{64}$/;

/** sha256 of what a request asks for (module, command, params, by) as canonical JSON: key order and spacing do not count. */
export function requestFingerprint(req: Pick<CmdRequest, 'module' | 'command' | 'params' | 'by'>): string {
  return sha256(canonicalJson({ module: req.module, command: req.command, params: req.params ?? {}, by: req.by ?? null }));
}

/**
 * A request that failed its schema may nest anything to any depth (walking it could overflow the
 * stack), so its fingerprint is of the payload as received: a redelivery carries the same bytes.
 */
export function payloadFingerprint(payload: Buffer): string {
  return createHash('sha256').update('invalid\0').update(payload).digest('hex');
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Params hold only strings and integers here, so keys sorted at each level is all it takes. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export class SeenRequests {
  /** id → fingerprint, oldest first; null for an id from the old file format (fingerprint unknown). */
  private ids = new Map<string, string | null>();
  /** Ids read from the file at start: received before this run of the agent. */
  private earlier = new Set<string>();
  private readonly pending = new Set<string>();
  private readonly results = new Map<string, { result: CmdResult; bytes: number }>();
  private resultBytes = 0;

  constructor(private readonly opts: SeenRequestsOptions) {}

  load(): void {
    this.ids = this.read();
    this.earlier = new Set(this.ids.keys());
  }

  /** Looks `id` up; a new one is remembered with its fingerprint, on disk, before this returns. */
  admit(id: string, fingerprint: string): Sighting {
    if (this.ids.has(id)) {
      const known = this.ids.get(id);
      // An id from the old format, without fingerprint, counts as the same request.
      if (known !== null && known !== fingerprint) return { kind: 'conflict' };
      if (this.pending.has(id)) return { kind: 'pending' };
      const held = this.results.get(id);
      return held ? { kind: 'answered', result: held.result } : { kind: 'forgotten', restarted: this.earlier.has(id) };
    }
    this.ids.set(id, fingerprint);
    this.pending.add(id);
    while (this.ids.size > this.opts.maxIds) this.forget(this.ids.keys().next().value!);
    this.save();
    return { kind: 'new' };
  }

  /** The one result of an admitted request: held for a re-send, the latest first, within the budget. */
  answered(id: string, result: CmdResult): void {
    this.pending.delete(id);
    if (!this.ids.has(id)) return; // forgotten while it ran (a tiny maxIds)
    const bytes = Buffer.byteLength(JSON.stringify(result));
    if (bytes > this.opts.maxResultBytes) return;
    this.dropResult(id);
    this.results.set(id, { result, bytes });
    this.resultBytes += bytes;
    while (this.results.size > this.opts.maxResults || this.resultBytes > this.opts.maxResultBytes) this.dropResult(this.results.keys().next().value!);
  }

  private forget(id: string): void {
    this.ids.delete(id);
    this.earlier.delete(id);
    this.pending.delete(id);
    this.dropResult(id);
  }

  private dropResult(id: string): void {
    const held = this.results.get(id);
    if (!held) return;
    this.results.delete(id);
    this.resultBytes -= held.bytes;
  }

  // ---- seen-ids.json ------------------------------------------------------------------------------
  // {"v":1, "ids":[…], "fingerprints":[…]}: the fingerprints are an array alongside the ids, so the
  // format stays what older agents read (they ignore the extra field) and a file they wrote, without
  // it, still reads here.

  private read(): Map<string, string | null> {
    const { file } = this.opts;
    try {
      const data = JSON.parse(readFileSync(file, 'utf8')) as { ids?: unknown; fingerprints?: unknown };
      if (!Array.isArray(data.ids)) throw new Error('no "ids" array');
      const fps = Array.isArray(data.fingerprints) && data.fingerprints.length === data.ids.length ? data.fingerprints : [];
      const out = new Map<string, string | null>();
      data.ids.forEach((id: unknown, i) => {
        if (typeof id !== 'string' || !REQUEST_ID_RE.test(id)) return;
        const fp: unknown = fps[i];
        out.delete(id); // a repeated id counts where it was last
        out.set(id, typeof fp === 'string' && FINGERPRINT_RE.test(fp) ? fp : null);
      });
      const excess = out.size - this.opts.maxIds;
      if (excess > 0) [...out.keys()].slice(0, excess).forEach((id) => out.delete(id));
      return out;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.opts.logger.warn('cannot read the seen request ids; starting afresh', { file, error: (err as Error).message });
      return new Map();
    }
  }

  /** Atomic and durable (temp file, fsync, rename). */
  private save(): void {
    const { file } = this.opts;
    try {
      writeFileAtomic(file, JSON.stringify({ v: 1, ids: [...this.ids.keys()], fingerprints: [...this.ids.values()] }), 0o600);
    } catch (err) {
      this.opts.logger.error('cannot persist the seen request ids: a redelivery after a restart could run again', { file, error: (err as Error).message });
    }
  }
}
