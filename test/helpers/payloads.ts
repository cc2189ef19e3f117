// Valid payloads for every topic (shared/schemas.ts), so that a refusal in a test is the ACL's and
// never a schema's.
import type { CmdResult, DoctorReport, GpioState, Manifest, Stats, Status } from '../../shared/schemas.js';

export const status = (online = true): Status => ({ v: 1, online, ts: Date.now() });

export const stats = (load = 0.5): Stats => ({
  v: 1, ts: Date.now(), cpu: { load }, mem: { total: 1024, used: 512 }, disk: [], net: [], uptimeSec: 60,
});

export const manifest = (hostname = 'pi'): Manifest => ({
  v: 1, ts: Date.now(), agentVersion: 'test', device: { model: null, hostname }, modules: [], doctor: false, gpio: [],
});

export const gpioState = (value: 0 | 1 = 1): GpioState => ({ v: 1, mode: 'out', value, ts: Date.now() });

export const doctor = (): DoctorReport => ({ v: 1, ts: Date.now(), ok: true, checks: [] });

export const cmdResult = (id: string, extra: Partial<CmdResult> = {}): CmdResult => ({
  v: 1, id, ok: true, exitCode: 0, signal: null, stdout: 'ok\n', stderr: '', truncated: false, durationMs: 3, ...extra,
});

/** A topic and payload for each kind a device publishes (what a user must never be able to publish). */
export function devicePublishes(serial: string): Array<[kind: string, topic: string, payload: object]> {
  return [
    ['status', `devices/${serial}/status`, status()],
    ['stats', `devices/${serial}/stats`, stats()],
    ['manifest', `devices/${serial}/manifest`, manifest()],
    ['gpio state', `devices/${serial}/gpio/4/state`, gpioState()],
    ['result', `devices/${serial}/cmd/res/r1`, cmdResult('r1')],
    ['doctor', `devices/${serial}/doctor`, doctor()],
  ];
}

let seq = 0;
export const requestId = (prefix = 'r'): string => `${prefix}${Date.now().toString(36)}${(++seq).toString(36)}`;
