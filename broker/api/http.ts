// A small HTTPS toolkit: a router with methods and path parameters (`/api/v1/devices/:serial`),
// middleware around handlers (auth, rate limits, headers), bounded body reading with zod, one error
// shape ({error:{code,message}}) and a one-line access log per request.
//
// Our own rather than a framework's: the hub serves a few dozen routes on a server it builds itself
// (node:https, which also carries the MQTT WebSocket upgrade), every input is validated with zod at
// the handler anyway, and this is ~150 lines with no dependency to keep up to date.
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
  method: string;
  /** The route's `:name` segments, decoded. */
  params: Record<string, string>;
  /** What middleware learned for the handler (who is asking…). */
  state: Record<string, unknown>;
}

/** A JSON body, or raw bytes of a given type (static files). */
export type Reply =
  | { status?: number; body: unknown; headers?: Record<string, string> }
  | { status?: number; raw: Buffer | string; type: string; headers?: Record<string, string> };

export type Handler = (ctx: Ctx) => Promise<Reply>;
export type Middleware = (ctx: Ctx, next: () => Promise<Reply>) => Promise<Reply>;

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

interface Route { method: string; parts: string[]; run: Handler }

/** Runs `handler` inside `middleware`, outermost first. */
export function wrap(middleware: Middleware[], handler: Handler): Handler {
  return middleware.reduceRight<Handler>((next, mw) => (ctx) => mw(ctx, () => next(ctx)), handler);
}

export class Router {
  private readonly routes: Route[] = [];
  private readonly middleware: Middleware[] = [];

  constructor(private readonly log: Logger) {}

  /** Middleware for every route, in the order added (the first added runs outermost). */
  use(mw: Middleware): this {
    this.middleware.push(mw);
    return this;
  }

  /** A route: `/a/:name/b`; the last function is the handler, the ones before it its own middleware. */
  on(method: string, pattern: string, ...chain: [...Middleware[], Handler]): this {
    const handler = chain.pop() as Handler;
    this.routes.push({ method, parts: pattern.split('/'), run: wrap(chain as Middleware[], handler) });
    return this;
  }

  private match(method: string, path: string): { route: Route; params: Record<string, string> } | { allowed: string[] } {
    const parts = path.split('/');
    const allowed: string[] = [];
    for (const route of this.routes) {
      if (route.parts.length !== parts.length) continue;
      const params: Record<string, string> = {};
      const ok = route.parts.every((p, i) => {
        if (!p.startsWith(':')) return p === parts[i];
        if (parts[i] === '') return false;
        params[p.slice(1)] = decodeURIComponent(parts[i]!);
        return true;
      });
      if (!ok) continue;
      if (route.method === method) return { route, params };
      allowed.push(route.method);
    }
    return { allowed };
  }

  /** The node:https request listener. */
  readonly listener = (req: IncomingMessage, res: ServerResponse): void => {
    const started = Date.now();
    const socket = req.socket as TLSSocket;
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'https://hub');
    } catch {
      url = new URL('https://hub/');
    }
    const ctx: Ctx = { req, res, socket, ip: socket.remoteAddress ?? '?', url, method: req.method ?? 'GET', params: {}, state: {} };
    const send = (reply: Reply) => {
      const status = reply.status ?? 200;
      const raw = 'raw' in reply;
      const data = status === 204 || status === 304 ? '' : raw ? reply.raw : JSON.stringify(reply.body);
      res.writeHead(status, {
        ...(data === '' ? {} : { 'content-type': raw ? reply.type : 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(data) }),
        ...(raw ? {} : { 'cache-control': 'no-store' }),
        ...reply.headers,
      });
      res.end(ctx.method === 'HEAD' ? undefined : data);
      this.log.info(`${ctx.method} ${url.pathname} ${status}`, { ip: ctx.ip, ms: Date.now() - started });
    };
    const route = async (c: Ctx): Promise<Reply> => {
      let found;
      try {
        found = this.match(c.method, url.pathname);
      } catch {
        throw new HttpError(400, 'invalid_path', 'the path is not valid percent-encoding');
      }
      if ('route' in found) {
        c.params = found.params;
        return found.route.run(c);
      }
      if (found.allowed.length > 0) throw new HttpError(405, 'method_not_allowed', `${c.method} ${url.pathname}`, { allow: found.allowed.join(', ') });
      throw new HttpError(404, 'not_found', `${c.method} ${url.pathname}`);
    };
    const errorReply = (err: unknown): Reply => {
      if (err instanceof HttpError) return { status: err.status, body: { error: { code: err.code, message: err.message } }, headers: err.headers };
      this.log.error('request failed', { path: url.pathname, error: (err as Error).message });
      return { status: 500, body: { error: { code: 'internal', message: 'internal error' } } };
    };
    // Middleware for every request wraps the routing, so its headers reach errors and 404s too.
    wrap(this.middleware, (c) => route(c).catch((err: unknown) => errorReply(err)))(ctx)
      .catch((err: unknown) => errorReply(err))
      .then(send, (err: unknown) => this.log.error('cannot answer', { path: url.pathname, error: (err as Error).message }));
  };
}
