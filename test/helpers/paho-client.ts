// A Python paho-mqtt client (Debian's python3-paho-mqtt, run by /usr/bin/python3 where it is
// importable) over wss with a client certificate: a third-party client none of us wrote. It speaks
// JSON lines: it prints what happens and takes commands on stdin.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TestHub, UserCredentials } from './hub.js';
import { withTimeout } from './process.js';

export const SYSTEM_PYTHON = '/usr/bin/python3';

// paho 1.x: Client(client_id="", clean_session=None, userdata=None, protocol=MQTTv311, transport="tcp")
const SCRIPT = String.raw`
import json, ssl, sys, threading
import paho.mqtt.client as mqtt

host, port, ca, cert, key, client_id = sys.argv[1:7]

def out(**event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()

c = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv311, transport="websockets")
c.ws_set_options(path="/mqtt")
ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
ctx.load_cert_chain(certfile=cert, keyfile=key)
c.tls_set_context(ctx)
c.on_connect = lambda cl, ud, flags, rc: out(event="connack", rc=rc, session_present=bool(flags.get("session present")))
c.on_subscribe = lambda cl, ud, mid, granted: out(event="suback", mid=mid, granted=list(granted))
c.on_publish = lambda cl, ud, mid: out(event="puback", mid=mid)
c.on_message = lambda cl, ud, m: out(event="message", topic=m.topic, payload=m.payload.decode(), retain=bool(m.retain), qos=m.qos)
c.on_disconnect = lambda cl, ud, rc: out(event="disconnect", rc=rc)
c.connect(host, int(port), keepalive=30)
c.loop_start()
for line in sys.stdin:
    cmd = json.loads(line)
    if cmd["op"] == "subscribe":
        rc, mid = c.subscribe([(f, 1) for f in cmd["filters"]])
        out(event="subscribing", mid=mid)
    elif cmd["op"] == "publish":
        info = c.publish(cmd["topic"], cmd["payload"], qos=1)
        out(event="publishing", mid=info.mid)
    elif cmd["op"] == "quit":
        break
c.disconnect()
c.loop_stop()
`;

export type PahoEvent = { event: string; [k: string]: unknown };

export class PahoClient {
  readonly events: PahoEvent[] = [];
  stderr = '';
  private waiters: Array<{ match: (e: PahoEvent) => boolean; resolve: (e: PahoEvent) => void }> = [];

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const e = JSON.parse(buf.slice(0, i)) as PahoEvent;
        buf = buf.slice(i + 1);
        this.events.push(e);
        this.waiters = this.waiters.filter((w) => (w.match(e) ? (w.resolve(e), false) : true));
      }
    });
    child.stderr.on('data', (d: Buffer) => { this.stderr += d.toString(); });
  }

  static available(): boolean {
    return existsSync(SYSTEM_PYTHON);
  }

  static start(hub: TestHub, user: UserCredentials, clientId = ''): PahoClient {
    const child = spawn(SYSTEM_PYTHON, ['-c', SCRIPT, '127.0.0.1', String(hub.port), join(user.dir, 'ca.crt'), join(user.dir, `${user.name}.crt`), join(user.dir, `${user.name}.key`), clientId], {
      stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
    });
    return new PahoClient(child);
  }

  /** The first event (past or future) matching. */
  next(match: (e: PahoEvent) => boolean, what: string, timeoutMs = 8_000): Promise<PahoEvent> {
    const have = this.events.find(match);
    if (have) return Promise.resolve(have);
    return withTimeout(new Promise<PahoEvent>((resolve) => this.waiters.push({ match, resolve })), timeoutMs, `paho: ${what}\n${this.stderr}`);
  }

  send(cmd: object): void {
    this.child.stdin.write(JSON.stringify(cmd) + '\n');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.send({ op: 'quit' });
    this.child.stdin.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(t);
  }
}
