// A TCP load balancer for tests of several hub nodes, on 127.0.0.1: each connection goes to the first
// backend that accepts it, so a node that died is passed over. `hold()` refuses every connection (the
// Pis' way to the nodes is cut) until `release()`.
import { type Server, type Socket, connect, createServer } from 'node:net';

export class TcpBalancer {
  port = 0;
  private held = false;
  private readonly server: Server;
  private readonly open = new Set<Socket>();

  constructor(public backends: number[]) {
    this.server = createServer((client) => this.accept(client));
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  hold(): void { this.held = true; }
  release(): void { this.held = false; }

  private accept(client: Socket): void {
    if (this.held) { client.destroy(); return; }
    this.track(client);
    client.on('error', () => client.destroy());
    const tryNext = (i: number) => {
      const port = this.backends[i];
      if (port === undefined || client.destroyed) { client.destroy(); return; }
      const upstream = connect(port, '127.0.0.1');
      let up = false;
      upstream.on('error', () => { if (up) client.destroy(); else tryNext(i + 1); });
      upstream.once('connect', () => {
        up = true;
        this.track(upstream);
        client.pipe(upstream).pipe(client);
        client.once('close', () => upstream.destroy());
        upstream.once('close', () => client.destroy());
      });
    };
    tryNext(0);
  }

  private track(s: Socket): void {
    this.open.add(s);
    s.once('close', () => this.open.delete(s));
  }

  async close(): Promise<void> {
    for (const s of this.open) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
