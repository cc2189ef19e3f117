// Hash routes (#/devices/<serial>): the hub serves one index.html at / and needs no fallback route.
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'devices' }
  | { page: 'device'; serial: string }
  | { page: 'add' }
  | { page: 'keys' }
  | { page: 'sessions' }
  | { page: 'audit' }
  | { page: 'not-found'; path: string };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/';
  const device = /^\/devices\/([A-Za-z0-9_-]{1,64})$/.exec(path);
  if (device) return { page: 'device', serial: device[1]! };
  switch (path) {
    case '/': case '/devices': return { page: 'devices' };
    case '/add': return { page: 'add' };
    case '/keys': return { page: 'keys' };
    case '/sessions': return { page: 'sessions' };
    case '/audit': return { page: 'audit' };
    default: return { page: 'not-found', path };
  }
}

export const href = {
  devices: '#/',
  device: (serial: string) => `#/devices/${serial}`,
  add: '#/add',
  keys: '#/keys',
  sessions: '#/sessions',
  audit: '#/audit',
} as const;

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => {
      setRoute(parseRoute(location.hash));
      window.scrollTo(0, 0);
    };
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}
