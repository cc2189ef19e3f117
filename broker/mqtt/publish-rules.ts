// What the hub does with each kind of message a client may publish, once the ACL has allowed it: one
// entry per kind — its schema and what the hub does with a valid message (stamp, audit, track) or an
// invalid one. A publish is parsed once; a new kind is one entry. Every kind has a size bound, and
// only a device's current state (status, manifest, doctor, GPIO states) may stay retained.
import type { z } from 'zod';
import { formatIssues } from '../../shared/errors.js';
import { parseJson } from '../../shared/json.js';
import { MAX_PAYLOAD_BYTES, RETAINED_KINDS } from '../../shared/limits.js';
import {
  CmdRequestSchema, CmdResultSchema, DoctorReportSchema, type ErrorCode, GpioSetSchema, GpioStateSchema, ManifestSchema, StatusSchema,
} from '../../shared/schemas.js';
import { requestIdOf } from '../../shared/results.js';
import type { DeviceTopic } from '../../shared/topics.js';
import type { DeviceEntry, DeviceTracker } from '../device-tracker.js';
import { type StatsRate, takeStatsToken } from '../fleet-limits.js';

/**
 * What a rule may use: who publishes and the hub's services. One per connection (made once, not per
 * message: this is the hot path); the topic comes with each message.
 */
export interface PublishContext {
  userId: string;
  /** `user:alice` or `device:<serial>`: the audit log's actor. */
  actor: string;
  /** The user's name for `by` (a device never sends requests). */
  label: string;
  tracker: DeviceTracker;
  /** The tracker entry of the device the topic names (a device's own, found once at CONNECT). */
  entry(t: DeviceTopic): DeviceEntry;
  /** Is the topic's serial a Pi of this user? */
  enrolled(t: DeviceTopic): boolean;
  audit(t: DeviceTopic, action: string, detail: unknown): void;
  /** The same, at most once per actor, action and 10 s (for what a client can repeat at will). */
  auditThrottled(t: DeviceTopic, action: string, detail: unknown): void;
  /** How many stats messages a Pi may send (hub.json statsPerMinute). */
  statsRate: StatsRate;
  /** Answers a request on its result topic. */
  answer(t: DeviceTopic, id: string, code: ErrorCode, message: string): void;
}

/** Pass the message on (with a new payload, when stamped), or drop it for `reason` (`quiet`: logged by the rule, throttled). */
export type Verdict = { ok: true; payload?: Buffer } | { ok: false; reason: string; quiet?: boolean };

interface Rule<T> {
  /** null: passed on unparsed (stats: validated when recorded, off the hot path). */
  schema: z.ZodType<T> | null;
  accept(value: T, raw: Buffer, t: DeviceTopic, c: PublishContext): Verdict;
  /** Called for a payload that is too large or fails the schema (`raw` is its JSON, if any). */
  refused?(raw: unknown, reason: string, t: DeviceTopic, c: PublishContext): void;
}

const rule = <T>(r: Rule<T>): Rule<unknown> => r as Rule<unknown>;
const PASS: Verdict = { ok: true };

/** Why a request to a serial that is not one of this user's Pis is refused. */
const notEnrolled = (t: DeviceTopic) => `no Pi ${t.serial} is enrolled for this user`;

const RULES: Record<DeviceTopic['kind'], Rule<unknown>> = {
  'cmd-req': rule({
    schema: CmdRequestSchema,
    accept(req, _raw, t, c) {
      if (!c.enrolled(t)) {
        const reason = notEnrolled(t);
        c.answer(t, req.id, 'unknown_device', `refused by the hub: ${reason}`);
        c.audit(t, 'cmd.refused', { id: req.id, reason });
        return { ok: false, reason };
      }
      c.audit(t, 'cmd.req', { id: req.id, module: req.module, command: req.command, params: req.params ?? {} });
      return { ok: true, payload: Buffer.from(JSON.stringify({ ...req, by: c.label })) }; // the hub stamps `by`, overwriting the client's
    },
    refused(raw, reason, t, c) {
      const id = requestIdOf(raw);
      if (id) c.answer(t, id, 'invalid_request', `refused by the hub: ${reason}`);
      c.audit(t, 'cmd.refused', { id, reason });
    },
  }),
  'gpio-set': rule({
    schema: GpioSetSchema,
    accept(set, _raw, t, c) {
      if (t.kind !== 'gpio-set') return PASS;
      if (!c.enrolled(t)) {
        const reason = notEnrolled(t);
        c.audit(t, 'gpio.refused', { bcm: t.bcm, reason });
        return { ok: false, reason };
      }
      c.audit(t, 'gpio.set', { bcm: t.bcm, ...set });
      return { ok: true, payload: Buffer.from(JSON.stringify({ ...set, by: c.label })) };
    },
    refused(_raw, reason, t, c) {
      if (t.kind === 'gpio-set') c.audit(t, 'gpio.refused', { bcm: t.bcm, reason });
    },
  }),
  stats: rule({
    schema: null,
    accept(_v, raw, t, c) {
      const e = c.entry(t);
      if (!takeStatsToken(e, c.statsRate)) {
        // A Pi sending faster than the hub takes: the newest sample replaces the last one anyway.
        const reason = `more than ${c.statsRate.perMinute} stats messages a minute (burst ${c.statsRate.burst})`;
        c.auditThrottled(t, 'stats.dropped', { reason });
        return { ok: false, reason, quiet: true };
      }
      c.tracker.stats(e, raw);
      return PASS;
    },
  }),
  status: rule({ schema: StatusSchema, accept(s, _raw, t, c) { c.tracker.status(c.entry(t), s); return PASS; } }),
  manifest: rule({ schema: ManifestSchema, accept(m, _raw, t, c) { c.tracker.manifest(c.entry(t), m); return PASS; } }),
  'cmd-res': rule({
    schema: CmdResultSchema,
    accept(res, _raw, t, c) {
      if (t.kind !== 'cmd-res' || res.id !== t.id) return { ok: false, reason: `the result's id is not the topic's (${t.kind === 'cmd-res' ? t.id : '?'})` };
      c.tracker.seen(c.entry(t));
      c.audit(t, 'cmd.res', { id: res.id, ok: res.ok, exitCode: res.exitCode, signal: res.signal, durationMs: res.durationMs, error: res.error?.code ?? null });
      return PASS;
    },
  }),
  doctor: rule({ schema: DoctorReportSchema, accept(_r, _raw, t, c) { c.tracker.seen(c.entry(t)); return PASS; } }),
  'gpio-state': rule({ schema: GpioStateSchema, accept(_s, _raw, t, c) { c.tracker.seen(c.entry(t)); return PASS; } }),
};

/**
 * Applies the kind's bounds and rule to a publish the ACL allowed. The caller passes the message on
 * (with `payload` when the rule stamped it, and never retained unless the kind may be) or drops it.
 */
export function judgePublish(payload: Buffer, t: DeviceTopic, c: PublishContext): Verdict {
  const r = RULES[t.kind];
  const max = MAX_PAYLOAD_BYTES[t.kind];
  if (payload.length > max) {
    const reason = `the payload is ${payload.length} bytes; a ${t.kind} message may carry at most ${max}`;
    r.refused?.(r.schema ? parseJson(payload) : null, reason, t, c);
    return { ok: false, reason };
  }
  if (!r.schema) return r.accept(payload, payload, t, c);
  const raw = parseJson(payload);
  const parsed = r.schema.safeParse(raw);
  if (!parsed.success) {
    const reason = formatIssues(parsed.error).join('; ').slice(0, 1000);
    r.refused?.(raw, reason, t, c);
    return { ok: false, reason };
  }
  return r.accept(parsed.data, payload, t, c);
}

/** May a message of this kind stay retained? */
export const mayRetain = (kind: DeviceTopic['kind']): boolean => RETAINED_KINDS.has(kind);
