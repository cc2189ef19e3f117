// Incoming messages → the part that handles their kind of topic (parseDeviceTopic, shared/topics.ts).
// Parts declare their handlers (Part.handlers); a new kind of request is one more declaration, not a
// change here or in the daemon. A message nobody handles is logged, never thrown.
import type { Logger } from '../shared/log.js';
import { type DeviceTopic, parseDeviceTopic, topics } from '../shared/topics.js';

/** The kinds of message a device receives (docs/ARCHITECTURE.md, "Mountpoints and ACL"), each with its filter. */
const RECEIVED = {
  'cmd-req': topics.cmdReq,
  'gpio-set': topics.gpioSetAll,
} as const satisfies Partial<Record<DeviceTopic['kind'], (serial: string) => string>>;

export type ReceivedKind = keyof typeof RECEIVED;
/** A topic of kind K; not Extract<…>, since one variant of DeviceTopic covers two kinds (gpio-set, gpio-state). */
export type TopicOf<K extends DeviceTopic['kind']> = DeviceTopic & { kind: K };
export type TopicHandler<K extends ReceivedKind> = (topic: TopicOf<K>, payload: Buffer) => void | Promise<void>;
/** What one part handles: at most one handler per kind. */
export type TopicHandlers = { [K in ReceivedKind]?: TopicHandler<K> };

type Route = { owner: string; handle: (topic: DeviceTopic, payload: Buffer) => void | Promise<void> };

export class Dispatcher {
  private readonly routes = new Map<ReceivedKind, Route>();
  /** What was already reported at warn: each kind of unhandled message once, then at debug. */
  private readonly reported = new Set<string>();

  constructor(private readonly serial: string, private readonly log: Logger) {}

  /** Adds a part's handlers; a kind that another part handles already is a programming error. */
  register(owner: string, handlers: TopicHandlers): void {
    for (const kind of Object.keys(RECEIVED) as ReceivedKind[]) {
      const handle = handlers[kind];
      if (!handle) continue;
      const taken = this.routes.get(kind);
      if (taken) throw new Error(`${owner} handles ${kind} messages, which ${taken.owner} handles already`);
      this.routes.set(kind, { owner, handle: handle as Route['handle'] });
    }
  }

  /** The filters to subscribe to: those of the kinds someone handles. */
  filters(): string[] {
    return (Object.keys(RECEIVED) as ReceivedKind[]).filter((k) => this.routes.has(k)).map((k) => RECEIVED[k](this.serial));
  }

  /** Hands the message to its handler; whatever goes wrong is logged, never thrown. */
  dispatch(topic: string, payload: Buffer): void {
    const t = parseDeviceTopic(topic);
    const route = t?.serial === this.serial && t.kind in RECEIVED ? this.routes.get(t.kind as ReceivedKind) : undefined;
    if (!t || !route) {
      this.unhandled(topic, payload, t === null ? 'unknown' : t.serial === this.serial ? t.kind : 'another serial');
      return;
    }
    const failed = (err: unknown) => this.log.error('handling a message failed', { topic, part: route.owner, error: err instanceof Error ? err.message : String(err) });
    try {
      void Promise.resolve(route.handle(t, payload)).catch(failed);
    } catch (err) {
      failed(err);
    }
  }

  private unhandled(topic: string, payload: Buffer, what: string): void {
    const first = !this.reported.has(what);
    this.reported.add(what);
    const fields = { topic, bytes: payload.length };
    if (first) this.log.warn('ignored a message nothing here handles', fields);
    else this.log.debug('ignored a message nothing here handles', fields);
  }
}
