// A small JSON-over-HTTPS toolkit: routing, bounded body reading with zod, one error shape
// ({error:{code,message}}), and a one-line access log per request.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { z } from 'zod';
import type { Logger } from '../../shared/log.js';

export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  socket: TLSSocket;
  ip: string;
  url: URL;
}

export type Handler = (ctx: Ctx) => Promise<{ status?: number; body: unknown }>;

const MAX_BODY = 64 * 1024;

export async function readJson<T extends z.ZodType>(ctx: Ctx, schema: T): Promise<z.infer<T>> {
  const type = ctx.req.headers['content-type'] ?? '';
  if (!type.startsWith('application/json')) throw new HttpError(415, 'unsupported_media_type', 'send application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, 'too_large', `the body exceeds ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'invalid_json', 'the body is not JSON');
  }
  const r = schema.safeParse(value);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new HttpError(400, 'invalid_request', `${i.path.join('.') || '(body)'}: ${i.message}`);
  }
  return r.data;
}

export function bearerToken(ctx: Ctx): string | null {
  const h = ctx.req.headers.authorization;
  const m = h ? /^Bearer\s+(\S+)$/i.exec(h) : null;
  return m ? m[1]! : null;
}

export class Router {
  private readonly routes = new Map<string, Handler>();

  constructor(private readonly log: Logger) {}

  on(method: string, path: string, handler: Handler): this {
    this.routes.set(`${method} ${path}`, handler);
    return this;
  }

  /** The node:https request listener. */
  readonly listener = (req: IncomingMessage, res: ServerResponse): void => {
    const started = Date.now();
    const socket = req.socket as TLSSocket;
    const ip = socket.remoteAddress ?? '?';
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'https://hub');
    } catch {
      url = new URL('https://hub/');
    }
    const handler = this.routes.get(`${req.method} ${url.pathname}`);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(text),
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        ...headers,
      });
      res.end(text);
      this.log.info(`${req.method} ${url.pathname} ${status}`, { ip, ms: Date.now() - started });
    };
    if (!handler) {
      const known = [...this.routes.keys()].some((k) => k.endsWith(` ${url.pathname}`));
      send(known ? 405 : 404, { error: { code: known ? 'method_not_allowed' : 'not_found', message: `${req.method} ${url.pathname}` } });
      return;
    }
    handler({ req, res, socket, ip, url }).then(
      (r) => send(r.status ?? 200, r.body),
      (err: unknown) => {
        if (err instanceof HttpError) {
          send(err.status, { error: { code: err.code, message: err.message } }, err.headers);
        } else {
          this.log.error('request failed', { path: url.pathname, error: (err as Error).message });
          send(500, { error: { code: 'internal', message: 'internal error' } });
        }
      },
    );
  };
}
