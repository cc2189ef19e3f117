// What the hub does with each kind of message a client may publish, once the ACL has allowed it: one
// entry per kind — its schema and what the hub does with a valid message (stamp, audit, track) or an
// invalid one. A publish is parsed once; a new kind is one entry. Every kind has a size bound, and
// only a device's current state (status, manifest, doctor, GPIO states) may stay retained.
import type { z } from 'zod';
import { formatIssues } from '../shared/cli.js';
import { parseJson } from '../shared/json.js';
import { MAX_PAYLOAD_BYTES, RETAINED_KINDS } from '../shared/limits.js';
import {
  CmdRequestSchema, CmdResultSchema, DoctorReportSchema, type ErrorCode, GpioSetSchema, GpioStateSchema, ManifestSchema, StatusSchema,
} from '../shared/schemas.js';
import { type DeviceTopic, REQUEST_ID_RE } from '../shared/topics.js';
import type { DeviceEntry, DeviceTracker } from './device-tracker.js';

/** What a rule may use: who published, where, and the hub's services. */
export interface PublishContext {
  t: DeviceTopic;
  userId: string;
  /** `user:alice` or `device:<serial>`: the audit log's actor. */
  actor: string;
  /** The user's name for `by` (a device never sends requests). */
  label: string;
  tracker: DeviceTracker;
  /** The device's tracker entry (a device's own, found once at CONNECT). */
  entry(): DeviceEntry;
  /** Is the addressed serial a Pi of this user? */
  enrolled(): boolean;
  audit(action: string, detail: unknown): void;
  /** Answers a request on its result topic. */
  answer(id: string, code: ErrorCode, message: string): void;
}

/** Pass the message on (with a new payload, when stamped), or drop it for `reason`. */
export type Verdict = { ok: true; payload?: Buffer } | { ok: false; reason: string };

interface Rule<T> {
  /** null: passed on unparsed (stats: validated when recorded, off the hot path). */
  schema: z.ZodType<T> | null;
  accept(value: T, raw: Buffer, c: PublishContext): Verdict;
  /** Called for a payload that is too large or fails the schema (`raw` is its JSON, if any). */
  refused?(raw: unknown, reason: string, c: PublishContext): void;
}

const rule = <T>(r: Rule<T>): Rule<unknown> => r as Rule<unknown>;
const PASS: Verdict = { ok: true };

function requestId(raw: unknown): string | null {
  const id = (raw as { id?: unknown } | null)?.id;
  return typeof id === 'string' && REQUEST_ID_RE.test(id) ? id : null;
}

/** Why a request to a serial that is not one of this user's Pis is refused. */
const notEnrolled = (c: PublishContext) => `no Pi ${c.t.serial} is enrolled for this user`;

const RULES: Record<DeviceTopic['kind'], Rule<unknown>> = {
  'cmd-req': rule({
    schema: CmdRequestSchema,
    accept(req, _raw, c) {
      if (!c.enrolled()) {
        const reason = notEnrolled(c);
        c.answer(req.id, 'unknown_device', `refused by the hub: ${reason}`);
        c.audit('cmd.refused', { id: req.id, reason });
        return { ok: false, reason };
      }
      c.audit('cmd.req', { id: req.id, module: req.module, command: req.command, params: req.params ?? {} });
      return { ok: true, payload: Buffer.from(JSON.stringify({ ...req, by: c.label })) }; // the hub stamps `by`, overwriting the client's
    },
    refused(raw, reason, c) {
      const id = requestId(raw);
      if (id) c.answer(id, 'invalid_request', `refused by the hub: ${reason}`);
      c.audit('cmd.refused', { id, reason });
    },
  }),
  'gpio-set': rule({
    schema: GpioSetSchema,
    accept(set, _raw, c) {
      if (c.t.kind !== 'gpio-set') return PASS;
      if (!c.enrolled()) {
        const reason = notEnrolled(c);
        c.audit('gpio.refused', { bcm: c.t.bcm, reason });
        return { ok: false, reason };
      }
      c.audit('gpio.set', { bcm: c.t.bcm, ...set });
      return { ok: true, payload: Buffer.from(JSON.stringify({ ...set, by: c.label })) };
    },
    refused(_raw, reason, c) {
      if (c.t.kind === 'gpio-set') c.audit('gpio.refused', { bcm: c.t.bcm, reason });
    },
  }),
  stats: rule({ schema: null, accept(_v, raw, c) { c.tracker.stats(c.entry(), raw); return PASS; } }),
  status: rule({ schema: StatusSchema, accept(s, _raw, c) { c.tracker.status(c.entry(), s); return PASS; } }),
  manifest: rule({ schema: ManifestSchema, accept(m, _raw, c) { c.tracker.manifest(c.entry(), m); return PASS; } }),
  'cmd-res': rule({
    schema: CmdResultSchema,
    accept(res, _raw, c) {
      if (c.t.kind !== 'cmd-res' || res.id !== c.t.id) return { ok: false, reason: `the result's id is not the topic's (${c.t.kind === 'cmd-res' ? c.t.id : '?'})` };
      c.tracker.seen(c.entry());
      c.audit('cmd.res', { id: res.id, ok: res.ok, exitCode: res.exitCode, signal: res.signal, durationMs: res.durationMs, error: res.error?.code ?? null });
      return PASS;
    },
  }),
  doctor: rule({ schema: DoctorReportSchema, accept(_r, _raw, c) { c.tracker.seen(c.entry()); return PASS; } }),
  'gpio-state': rule({ schema: GpioStateSchema, accept(_s, _raw, c) { c.tracker.seen(c.entry()); return PASS; } }),
};

/**
 * Applies the kind's bounds and rule to a publish the ACL allowed. The caller passes the message on
 * (with `payload` when the rule stamped it, and never retained unless the kind may be) or drops it.
 */
export function judgePublish(payload: Buffer, c: PublishContext): Verdict {
  const r = RULES[c.t.kind];
  const max = MAX_PAYLOAD_BYTES[c.t.kind];
  if (payload.length > max) {
    const reason = `the payload is ${payload.length} bytes; a ${c.t.kind} message may carry at most ${max}`;
    r.refused?.(r.schema ? parseJson(payload) : null, reason, c);
    return { ok: false, reason };
  }
  if (!r.schema) return r.accept(payload, payload, c);
  const raw = parseJson(payload);
  const parsed = r.schema.safeParse(raw);
  if (!parsed.success) {
    const reason = formatIssues(parsed.error).join('; ').slice(0, 1000);
    r.refused?.(raw, reason, c);
    return { ok: false, reason };
  }
  return r.accept(parsed.data, payload, c);
}

/** May a message of this kind stay retained? */
export const mayRetain = (kind: DeviceTopic['kind']): boolean => RETAINED_KINDS.has(kind);
