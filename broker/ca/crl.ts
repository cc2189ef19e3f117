// The hub's certificate revocation list, for software that fronts or bridges the hub with the same CA
// (Mosquitto's crlfile, nginx, Caddy): made anew on every revocation and daily, valid for a week,
// served at GET /api/v1/ca/crl and written to <data-dir>/ca/crl.pem.
import { writeFileAtomic } from '../../shared/fs.js';
import type { Logger } from '../../shared/log.js';
import type { HubStore } from '../store/store.js';
import type { CertificateAuthority } from './authority.js';

const DAY = 86_400_000;
/** How long a CRL is valid: made daily, a CRL reader keeps working through a week of hub downtime. */
export const CRL_VALID_MS = 7 * DAY;

export class CrlPublisher {
  private current: { der: Buffer; pem: string } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private building: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly ca: CertificateAuthority,
    private readonly store: HubStore,
    private readonly file: string,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), DAY);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  get der(): Buffer | null { return this.current?.der ?? null; }
  get pem(): string | null { return this.current?.pem ?? null; }

  /** Makes a new CRL now; calls while one is being made make one more after it, not one each. */
  refresh(): Promise<void> {
    if (this.building) {
      this.again = true;
      return this.building;
    }
    this.building = (async () => {
      do {
        this.again = false;
        try {
          this.current = await makeCrl(this.ca, this.store);
          writeFileAtomic(this.file, this.current.pem, 0o644);
        } catch (err) {
          this.log.error('cannot make the CRL', { error: (err as Error).message });
        }
      } while (this.again);
    })().finally(() => { this.building = null; });
    return this.building;
  }
}

/** A CRL of every revoked certificate that has not expired, with the next CRL number. */
export async function makeCrl(ca: CertificateAuthority, store: HubStore): Promise<{ der: Buffer; pem: string }> {
  const number = store.transaction(() => {
    const n = Number(store.getSetting('crl_number') ?? '0') + 1;
    store.setSetting('crl_number', String(n));
    return n;
  });
  return ca.crl(store.certs.revokedList(), number, new Date(Date.now() + CRL_VALID_MS));
}
