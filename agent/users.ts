// Resolves a user name to what the executor needs, through NSS (`getent passwd`, so LDAP or
// systemd-homed users work too). Run with execFile: no shell, and the schema's user name
// alphabet means getent never sees an option.
import { execFile } from 'node:child_process';

export interface SystemUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export type UserLookup = { ok: true; user: SystemUser } | { ok: false; message: string };

export const GETENT = '/usr/bin/getent';

/** Parses one passwd(5) line: `name:x:uid:gid:gecos:home:shell`. */
export function parsePasswdLine(line: string): SystemUser | null {
  const f = line.trim().split(':');
  if (f.length < 7) return null;
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  if (!/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[3]!) || !Number.isSafeInteger(uid) || !Number.isSafeInteger(gid)) return null;
  return { name: f[0]!, uid, gid, home: f[5]! };
}

export function resolveUser(name: string, getent: string = GETENT): Promise<UserLookup> {
  return new Promise((resolve) => {
    execFile(getent, ['passwd', name], { timeout: 5000, env: {} }, (err, stdout) => {
      if (err) {
        const e = err as Error & { code?: number | string };
        // getent(1): exit 2 means the key was not found.
        if (e.code === 2) resolve({ ok: false, message: `user "${name}" does not exist on this system` });
        else resolve({ ok: false, message: `cannot look up user "${name}": ${e.code === 'ENOENT' ? `${getent} not found` : e.message.split('\n')[0]}` });
        return;
      }
      const user = parsePasswdLine(stdout.split('\n')[0] ?? '');
      if (!user || user.name !== name) resolve({ ok: false, message: `cannot look up user "${name}": unexpected getent output` });
      else resolve({ ok: true, user });
    });
  });
}

/** One lookup per name for the duration of a load pass (a file may name the same user many times). */
export function cachedResolver(resolve: (name: string) => Promise<UserLookup> = resolveUser): (name: string) => Promise<UserLookup> {
  const cache = new Map<string, Promise<UserLookup>>();
  return (name) => {
    let p = cache.get(name);
    if (!p) cache.set(name, (p = resolve(name)));
    return p;
  };
}
