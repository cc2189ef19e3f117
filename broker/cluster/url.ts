// The --cluster address: where the hub nodes' shared Redis is. Checked here, at the edge, so a typo is
// one clear line at start and never an ioredis stack trace later (docs/ARCHITECTURE.md, "Several hub
// nodes").
import { z } from 'zod';

/** A Redis address as ioredis takes it, and the same without its password, for logs. */
export interface ClusterAddress { url: string; shown: string; tls: boolean }

export const ClusterUrlSchema = z.string().transform((s, ctx): ClusterAddress => {
  const fail = (message: string) => { ctx.addIssue({ code: 'custom', message }); return z.NEVER; };
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return fail('redis://HOST:PORT or rediss://HOST:PORT (TLS), e.g. redis://127.0.0.1:6379');
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') return fail(`redis:// or rediss:// only, not ${u.protocol}//`);
  if (u.hostname === '') return fail('a host is needed: redis://HOST:PORT');
  if (u.search !== '' || u.hash !== '') return fail('no query or fragment: redis://[USER:PASSWORD@]HOST:PORT[/DB]');
  if (u.pathname !== '' && u.pathname !== '/' && !/^\/(?:[0-9]|1[0-5])$/.test(u.pathname)) return fail('the path may only name a database, /0 to /15');
  const shown = `${u.protocol}//${u.hostname}:${u.port || '6379'}${u.pathname === '/' ? '' : u.pathname}`; // no password
  return { url: s, shown, tls: u.protocol === 'rediss:' };
});
