// Users with their credentials, made through the real CLI and API: the cast of most hub tests.
import type { DeviceCredentials, TestHub, UserCredentials } from './hub.js';

export interface Tenant {
  name: string;
  /** The user id: the mountpoint is u/<id>/. */
  id: string;
  apiKey: string;
  /** A user certificate (what Node-RED, mosquitto clients or a browser would use). */
  user: UserCredentials;
  devices: Record<string, DeviceCredentials>;
}

/** Adds a user, an API key, a user certificate and devices enrolled through POST /api/v1/enroll. */
export async function addTenant(hub: TestHub, name: string, serials: string[]): Promise<Tenant> {
  const id = await hub.addUser(name);
  const [apiKey, user] = await Promise.all([hub.apiKey(name), hub.userCert(name)]);
  const devices: Record<string, DeviceCredentials> = {};
  for (const serial of serials) devices[serial] = await hub.enrollDevice(apiKey, serial);
  return { name, id, apiKey, user, devices };
}

export function device(t: Tenant, serial: string): DeviceCredentials {
  const d = t.devices[serial];
  if (!d) throw new Error(`${t.name} has no device ${serial}`);
  return d;
}
