// sd_notify for Type=notify units: READY=1 once connected, WATCHDOG=1 at half of WATCHDOG_USEC,
// STOPPING=1 on SIGTERM, STATUS= as the link goes up and down. Node cannot send unix datagrams, so this runs
// systemd-notify (present wherever systemd sets NOTIFY_SOCKET) with --pid=<our pid>: as root its
// message carries our pid in SCM_CREDENTIALS, so systemd attributes it to the main process even though
// systemd-notify has exited by the time it is read.
import { execFile } from 'node:child_process';
import type { Logger } from '../shared/log.js';

export class SdNotify {
  private watchdog: NodeJS.Timeout | null = null;
  private readonly enabled = Boolean(process.env.NOTIFY_SOCKET);

  constructor(private readonly log: Logger, private readonly bin = '/usr/bin/systemd-notify') {}

  send(...assignments: string[]): void {
    if (!this.enabled) return;
    execFile(this.bin, [`--pid=${process.pid}`, ...assignments], { timeout: 5_000 }, (err) => {
      if (err) this.log.warn('sd_notify failed', { what: assignments.join(' '), error: err.message });
    });
  }

  ready(status?: string): void {
    this.send('READY=1', ...(status ? [`STATUS=${status}`] : []));
  }

  status(text: string): void { this.send(`STATUS=${text}`); }

  /** WATCHDOG_USEC is set by systemd when the unit has WatchdogSec=; ping at half of it. */
  startWatchdog(): void {
    const usec = Number(process.env.WATCHDOG_USEC);
    const pid = process.env.WATCHDOG_PID;
    if (!this.enabled || !Number.isFinite(usec) || usec <= 0 || (pid && Number(pid) !== process.pid)) return;
    this.watchdog = setInterval(() => this.send('WATCHDOG=1'), Math.max(1000, usec / 2000));
    this.watchdog.unref();
  }

  stopping(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    this.send('STOPPING=1');
  }
}
