// Everything the page knows about the user's Pis, kept current over one MQTT connection to devices/#:
// what the API said at first, then every retained state and live message (payloads: see payloads.ts).
// Views re-render at most once a frame, however many messages arrive.
import type { CmdResult, DoctorReport, GpioSet, GpioState, Manifest, Stats, Status } from '../../../shared/schemas.js';
import { parseDeviceTopic, topics } from '../../../shared/topics.js';
import { api, ApiError, type DeviceView } from './api.js';
import { MqttClient, type CloseReason } from './mqtt/client.js';
import { isStats, parsePayload } from './payloads.js';

/** A pin's retained state (not a refusal, which has no mode or value). */
export type PinState = Extract<GpioState, { mode: unknown }>;

export interface PinLive {
  state: PinState | null;
  /** The id of this window's last set, until the Pi answers it. */
  pending: string | null;
  /** Why the Pi refused this window's last set. */
  error: { code: string; message: string } | null;
}

export interface DeviceLive {
  serial: string;
  online: boolean;
  lastSeenAt: number | null;
  lastDataAt: number | null;
  status: Status | null;
  stats: Stats | null;
  manifest: Manifest | null;
  doctor: DoctorReport | null;
  pins: Map<number, PinLive>;
}

export interface CommandRun {
  id: string;
  serial: string;
  module: string;
  command: string;
  title: string;
  params: Record<string, string | number>;
  sentAt: number;
  /** The hub has it (PUBACK): it waits there for a Pi that is away. */
  accepted: boolean;
  result: CmdResult | null;
  failed: string | null;
}

export type Link = 'connecting' | 'online' | 'offline' | 'signed-out';

type StatsListener = (serial: string, stats: Stats) => void;

const RETRY_MS = [1000, 2000, 5000, 10_000, 15_000];
const MAX_RUNS = 200;

export function newId(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return prefix + Array.from(bytes, (b) => b.toString(36).padStart(2, '0')).join('');
}

export class LiveStore {
  readonly devices = new Map<string, DeviceLive>();
  readonly runs = new Map<string, CommandRun>();
  link: Link = 'connecting';
  /** The hub's device list has arrived: a Pi not in it by now is not the user's. */
  listed = false;
  /** Messages taken in since the page opened (the live view's throughput, for the report). */
  messages = 0;
  private client: MqttClient | null = null;
  private attempt = 0;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private readonly views = new Set<() => void>();
  private readonly statsListeners = new Set<StatsListener>();
  private frame = false;
  /** Pis removed from this page: their last messages (the hub's "offline") must not bring them back. */
  private readonly forgotten = new Set<string>();
  private stopped = false;

  constructor(private readonly onSignedOut: () => void) {}

  async start(): Promise<void> {
    this.connect();
    try {
      for (const d of await api.devices()) this.seed(d);
      this.listed = true;
      this.changed();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) this.signOut();
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.client?.stop();
    this.client = null;
  }

  /** A view re-renders through this; returns the unsubscribe. */
  watch(view: () => void): () => void {
    this.views.add(view);
    return () => this.views.delete(view);
  }

  /** Live stats points, for charts that append without a re-render. */
  onStats(fn: StatsListener): () => void {
    this.statsListeners.add(fn);
    return () => this.statsListeners.delete(fn);
  }

  device(serial: string): DeviceLive {
    let d = this.devices.get(serial);
    if (!d) {
      d = { serial, online: false, lastSeenAt: null, lastDataAt: null, status: null, stats: null, manifest: null, doctor: null, pins: new Map() };
      this.devices.set(serial, d);
    }
    return d;
  }

  /** A Pi the user removed leaves the list, unless it comes back online (enrolled again). */
  forget(serial: string): void {
    this.devices.delete(serial);
    this.forgotten.add(serial);
    this.changed();
  }

  /**
   * Publishes a command request; its result arrives on cmd/res/<id> (devices/# covers it). With the
   * module file's version from the manifest, the Pi runs it only if that file is still in force.
   */
  run(serial: string, module: string, command: string, title: string, params: Record<string, string | number>, moduleSha256?: string): string {
    const id = newId('w');
    const run: CommandRun = { id, serial, module, command, title, params, sentAt: Date.now(), accepted: false, result: null, failed: null };
    this.runs.set(id, run);
    // A page left open for days keeps the latest runs only (a Map iterates oldest first).
    for (const old of this.runs.keys()) { if (this.runs.size <= MAX_RUNS) break; this.runs.delete(old); }
    this.send(topics.cmdReq(serial), { v: 1, id, module, command, params, ...(moduleSha256 ? { moduleSha256 } : {}) }, () => { run.accepted = true; }, (m) => { run.failed = m; });
    this.changed();
    return id;
  }

  /** Asks the Pi to set a pin; its retained state (or a refusal with this id) answers. */
  setPin(serial: string, bcm: number, set: Omit<GpioSet, 'v' | 'id' | 'by'>): void {
    const id = newId('g');
    const pin = this.pin(serial, bcm);
    pin.pending = id;
    pin.error = null;
    this.send(topics.gpioSet(serial, bcm), { v: 1, id, ...set }, () => {}, (m) => {
      if (pin.pending === id) pin.pending = null;
      pin.error = { code: 'not_sent', message: m };
    });
    this.changed();
  }

  private send(topic: string, message: unknown, ok: () => void, fail: (message: string) => void): void {
    const c = this.client;
    const p = c && this.link === 'online' ? c.publish(topic, message, 1) : Promise.reject(new Error('not connected to the hub'));
    p.then(ok, (e: Error) => fail(e.message)).finally(() => this.changed());
  }

  private pin(serial: string, bcm: number): PinLive {
    const pins = this.device(serial).pins;
    let p = pins.get(bcm);
    if (!p) { p = { state: null, pending: null, error: null }; pins.set(bcm, p); }
    return p;
  }

  private seed(v: DeviceView): void {
    const d = this.device(v.serial);
    // What already arrived over MQTT is newer than the API's answer.
    if (d.status === null) { d.online = v.online; d.status = v.status; }
    d.lastSeenAt = Math.max(d.lastSeenAt ?? 0, v.lastSeenAt ?? 0) || null;
    d.lastDataAt = Math.max(d.lastDataAt ?? 0, v.lastDataAt ?? 0) || null;
    d.stats ??= isStats(v.stats) ? v.stats : null;
    d.manifest ??= v.manifest;
  }

  private connect(): void {
    if (this.stopped) return;
    this.link = this.attempt === 0 ? 'connecting' : 'offline';
    this.client = new MqttClient({
      url: `wss://${location.host}/mqtt`,
      clientId: newId('page-'),
      filters: [{ topic: topics.allDevices(), qos: 1 }],
      onMessage: (topic, payload) => this.message(topic, payload),
      onOnline: () => { this.attempt = 0; this.link = 'online'; this.changed(); },
      onClose: (reason) => this.closed(reason),
    });
    this.client.start();
    this.changed();
  }

  private closed(reason: CloseReason): void {
    this.client = null;
    if (this.stopped) return;
    this.link = 'offline';
    for (const r of this.runs.values()) if (!r.result && !r.accepted && !r.failed) r.failed = 'the connection to the hub ended before it took the request';
    this.changed();
    // Cut by the hub: logged out elsewhere, the session ended or the user removed? Ask before retrying.
    api.me().then(() => this.schedule(), (e: unknown) => {
      if (e instanceof ApiError && e.status === 401) this.signOut();
      else this.schedule();
    });
    if (reason.kind === 'refused') console.warn(`the hub refused the MQTT connection (CONNACK ${reason.returnCode})`);
  }

  private schedule(): void {
    if (this.stopped) return;
    const wait = RETRY_MS[Math.min(this.attempt++, RETRY_MS.length - 1)]!;
    this.retry = setTimeout(() => this.connect(), wait);
  }

  private signOut(): void {
    this.stop();
    this.link = 'signed-out';
    this.onSignedOut();
  }

  private message(topic: string, payload: Uint8Array): void {
    this.messages++;
    const t = parseDeviceTopic(topic);
    const body = t && parsePayload(payload);
    if (!t || !body) return;
    if (t.kind === 'cmd-res') return this.result(t.id, body as unknown as CmdResult);
    if (t.kind === 'cmd-req' || t.kind === 'gpio-set') return; // another window's; the answers follow
    if (this.forgotten.has(t.serial)) {
      if (t.kind !== 'status' || body.online !== true) return;
      this.forgotten.delete(t.serial);
    }
    const d = this.device(t.serial);
    const now = Date.now();
    switch (t.kind) {
      case 'status': {
        const s = body as unknown as Status;
        d.status = s;
        d.online = s.online;
        // The hub's "offline" is not a message from the Pi.
        if (s.online) d.lastSeenAt = now;
        break;
      }
      case 'stats': {
        if (!isStats(body)) return;
        d.stats = body;
        d.lastSeenAt = d.lastDataAt = now;
        for (const fn of this.statsListeners) fn(t.serial, body);
        break;
      }
      case 'manifest':
        d.manifest = body as unknown as Manifest;
        d.lastSeenAt = now;
        break;
      case 'doctor':
        d.doctor = body as unknown as DoctorReport;
        break;
      case 'gpio-state': {
        const s = body as unknown as GpioState;
        const pin = this.pin(t.serial, t.bcm);
        const mine = s.id !== undefined && s.id === pin.pending;
        if (mine) pin.pending = null;
        // A refusal changes nothing on the Pi; only the window that asked shows why.
        if (s.error) {
          if (mine) pin.error = s.error;
        } else if ('mode' in s) {
          pin.state = s;
          if (mine) pin.error = null;
        }
        break;
      }
    }
    this.changed();
  }

  private result(id: string, r: CmdResult): void {
    const run = this.runs.get(id);
    if (!run) return; // another window's request
    run.result = r;
    run.accepted = true;
    this.changed();
  }

  /** Views re-render on the next frame, once, however many messages came in (a hidden tab has no frames: a timer then). */
  changed(): void {
    if (this.frame) return;
    this.frame = true;
    const render = () => {
      this.frame = false;
      for (const v of this.views) v();
    };
    if (document.hidden) setTimeout(render, 200);
    else requestAnimationFrame(render);
  }
}
