// Mosquitto as a contender: a config written to a temp dir, listening on 127.0.0.1 only, mTLS
// (require_certificate, TLS 1.3) over WebSocket and mqtts with the hub's CA and server certificate.
import { spawnSync } from 'node:child_process';
import { chownSync, copyFileSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface MosquittoFiles { caPem: string; serverCert: string; serverKey: string }

export function mosquittoVersion(bin: string): string | null {
  if (!existsSync(bin)) return null;
  const r = spawnSync(bin, ['-h'], { encoding: 'utf8' });
  return /mosquitto version (\S+)/.exec(`${r.stdout}${r.stderr}`)?.[1] ?? 'unknown';
}

/**
 * Writes the config and copies the certificates next to it. Run as root, Mosquitto drops to the
 * `mosquitto` user, so the directory is handed to that user (it is private to this run).
 */
export function writeMosquittoConfig(files: MosquittoFiles, wsPort: number, mqttsPort: number): { dir: string; conf: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pifleet-bench-mosquitto-'));
  writeFileSync(join(dir, 'ca.crt'), files.caPem);
  copyFileSync(files.serverCert, join(dir, 'server.crt'));
  copyFileSync(files.serverKey, join(dir, 'server.key'));
  const tlsLines = [
    `cafile ${join(dir, 'ca.crt')}`,
    `certfile ${join(dir, 'server.crt')}`,
    `keyfile ${join(dir, 'server.key')}`,
    'require_certificate true',
    'use_identity_as_username true',
    'tls_version tlsv1.3',
  ];
  const conf = [
    '# written by pifleet bench/mosquitto.ts',
    'per_listener_settings false',
    'allow_anonymous false',
    'persistence false',
    'set_tcp_nodelay true',
    // The end-to-end window bounds what is in flight; this only keeps QoS 1 from being dropped at 1000.
    'max_queued_messages 100000',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    '',
    `listener ${mqttsPort} 127.0.0.1`,
    'protocol mqtt',
    ...tlsLines,
    '',
    // Without socket_domain, Debian's 2.0.11 binds a WebSocket listener on every interface.
    `listener ${wsPort} 127.0.0.1`,
    'protocol websockets',
    'socket_domain ipv4',
    ...tlsLines,
    '',
  ].join('\n');
  const confPath = join(dir, 'mosquitto.conf');
  writeFileSync(confPath, conf);
  if (process.getuid?.() === 0) {
    const r = spawnSync('id', ['-u', 'mosquitto'], { encoding: 'utf8' });
    const g = spawnSync('id', ['-g', 'mosquitto'], { encoding: 'utf8' });
    if (r.status === 0 && g.status === 0) {
      const uid = Number(r.stdout.trim());
      const gid = Number(g.stdout.trim());
      for (const f of ['', 'ca.crt', 'server.crt', 'server.key', 'mosquitto.conf']) chownSync(join(dir, f), uid, gid);
    }
  }
  return { dir, conf: confPath };
}
