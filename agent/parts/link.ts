// The MQTT link as a part: presence ({online:true} and the manifest on every connect, {online:false}
// as the will and at stop), the subscriptions of the kinds the parts handle, messages to the
// dispatcher, and publishing for the other parts. Emits 'up' and 'down' for those that follow the link.
import { X509Certificate } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { type Manifest, type Status, StatusSchema } from '../../shared/schemas.js';
import { topics } from '../../shared/topics.js';
import { VERSION } from '../../shared/version.js';
import type { Dispatcher } from '../dispatcher.js';
import { readCredentials } from '../identity.js';
import { type Credentials, MqttLink } from '../mqtt-link.js';
import type { AgentContext, Part } from '../part.js';

export interface LinkPartOptions {
  /** Read by the daemon before anything starts (a missing or mismatched file stops it there). */
  credentials: Credentials;
  dispatcher: Dispatcher;
  /** The manifest as the parts declare it now. */
  manifest: () => Manifest;
}

const status = (online: boolean): Status => StatusSchema.parse({ v: 1, online, ts: Date.now(), agentVersion: VERSION });

export class LinkPart extends EventEmitter<{ up: []; down: [] }> implements Part {
  readonly name = 'link';
  private creds: Credentials;
  private readonly mqtt: MqttLink;
  private stopping = false;
  /** The filters the session at the hub holds from this process's last SUBSCRIBE (null: none yet). */
  private subscribed: string | null = null;

  constructor(private readonly ctx: AgentContext, private readonly o: LinkPartOptions) {
    super();
    this.creds = o.credentials;
    const { config, log } = ctx;
    const serial = config.serial;
    this.mqtt = new MqttLink({
      url: `${config.hub.replace(/^https:/, 'wss:')}/mqtt`,
      clientId: serial,
      credentials: () => this.creds,
      will: { topic: topics.status(serial), payload: () => JSON.stringify({ v: 1, online: false, ts: Date.now() }) },
      reconnectMinMs: config.reconnectMinMs,
      reconnectMaxMs: config.reconnectMaxMs,
      refusedRetryMs: config.refusedRetrySec * 1000,
      log: log.child('mqtt'),
      diagnose: () => {
        const notAfter = new Date(new X509Certificate(this.creds.cert).validTo);
        return notAfter.getTime() < Date.now() ? `this Pi's certificate expired on ${notAfter.toISOString()}` : null;
      },
      onConnect: async (client, sessionPresent) => {
        // The hub keeps a persistent session's subscriptions (sessionPresent): subscribing again on
        // every reconnect only made 10,000 returning Pis cost the hub 20,000 more filters to check and
        // store (docs/ARCHITECTURE.md, "Reconnect storms"). Again only when the session is new or the
        // filters changed since this process last subscribed.
        const filters = o.dispatcher.filters();
        const key = filters.join('\n');
        if (filters.length > 0 && !(sessionPresent && this.subscribed === key)) await client.subscribeAsync(filters, { qos: 1 });
        this.subscribed = key;
        await client.publishAsync(topics.status(serial), JSON.stringify(status(true)), { qos: 1, retain: true });
        await client.publishAsync(topics.manifest(serial), JSON.stringify(o.manifest()), { qos: 1, retain: true });
      },
    });
  }

  start(): void {
    this.mqtt.on('up', this.onUp);
    this.mqtt.on('down', this.onDown);
    this.mqtt.on('message', this.onMessage);
    this.mqtt.start();
  }

  /** Publishes {online:false} if connected and ends the session; the parts after this one have stopped. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.mqtt.stop({ topic: topics.status(this.ctx.config.serial), payload: JSON.stringify(status(false)) });
    this.mqtt.off('up', this.onUp);
    this.mqtt.off('down', this.onDown);
    this.mqtt.off('message', this.onMessage);
  }

  get connected(): boolean {
    return !this.stopping && this.mqtt.connected;
  }

  /** Publishes JSON now, or when the link is back (QoS 1); QoS 0 while offline is dropped. */
  publish(topic: string, payload: unknown, qos: 0 | 1, retain: boolean): Promise<void> {
    return this.mqtt.publish(topic, JSON.stringify(payload), { qos, retain });
  }

  /** A part's manifest fields changed: publish the manifest again (the next connect does in any case). */
  manifestChanged(): void {
    if (this.stopping || !this.mqtt.connected) return;
    void this.publish(topics.manifest(this.ctx.config.serial), this.o.manifest(), 1, true).catch(() => {});
  }

  /** A renewed certificate is on disk: connect with it. */
  async renewed(): Promise<void> {
    this.creds = readCredentials(this.ctx.paths);
    await this.mqtt.switchCredentials();
  }

  private readonly onUp = () => {
    this.ctx.log.info('online', { hub: this.ctx.config.hub, serial: this.ctx.config.serial });
    this.emit('up');
  };

  private readonly onDown = () => this.emit('down');

  private readonly onMessage = (topic: string, payload: Buffer) => this.o.dispatcher.dispatch(topic, payload);
}
