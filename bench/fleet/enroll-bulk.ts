// Bench only: N Pis enrolled at once, without the API. POST /api/v1/enroll costs an argon2
// verification of the API key per Pi and is rate-limited per address (enrollBurst), which makes
// 10,000 enrollments take minutes; what it produces is reproduced here with the hub's own code:
// a P-256 key and CSR made as pi-agent makes them (shared/pki.ts), signed by the hub's
// CertificateAuthority.issueDevice (same issuing CA, same CN, same SPIFFE URI SAN, same extensions),
// recorded in hub.db as the enrollment route records it (certificate row, device row). Run it only
// while no hub uses the data directory. docs/BENCHMARKING.md, "Fleet".
import { issuedRecord } from '../../broker/ca/authority.js';
import { resolveHubConfig } from '../../broker/config.js';
import { openHubData } from '../../broker/data-dir.js';
import { createCsr, generateKeyPair } from '../../shared/pki.js';

export interface FleetDevice { serial: string; key: string; cert: string }

export const fleetSerial = (i: number) => `fleet-pi-${String(i).padStart(5, '0')}`;

/** Enrolls `count` Pis (serials fleetSerial(0…count-1)) for `userName` in the data directory. */
export async function enrollBulk(dataDir: string, userName: string, count: number): Promise<FleetDevice[]> {
  const cfg = resolveHubConfig({ dataDir });
  const d = await openHubData(cfg.dataDir, cfg.trustDomain);
  try {
    const user = d.store.users.byName(userName);
    if (!user) throw new Error(`no user ${userName} in ${dataDir}`);
    const ca = await d.loadCa(cfg.caPassphrase);
    ca.setCrlUrl(`${cfg.publicUrl(cfg.port)}/api/v1/ca/crl`);
    const out: FleetDevice[] = [];
    const batch = 200;
    for (let start = 0; start < count; start += batch) {
      const issued = await Promise.all(Array.from({ length: Math.min(batch, count - start) }, async (_, k) => {
        const serial = fleetSerial(start + k);
        const kp = await generateKeyPair();
        const cert = await ca.issueDevice(await createCsr(serial, kp.keys), serial, user.id, cfg.deviceCertLifetimeMs);
        return { serial, key: kp.privateKeyPem, cert };
      }));
      d.store.transaction(() => {
        for (const i of issued) {
          d.store.certs.add(issuedRecord(i.cert, { kind: 'device', userId: user.id, deviceSerial: i.serial }));
          d.store.devices.enroll(user.id, i.serial, null, i.cert.serial);
        }
      });
      for (const i of issued) out.push({ serial: i.serial, key: i.key, cert: i.cert.pem });
    }
    return out;
  } finally {
    d.store.close();
  }
}
