// `pi-agent connect | disconnect | status`: enrollment with an API key, pinned to the hub's root CA.
//
// The key pair is made here and never leaves the Pi. Before the API key is sent anywhere, a TLS-only
// probe (no HTTP request) checks that the hub's certificate chain leads to a root with the fingerprint
// the owner gave, and that its leaf is a TLS server certificate for the host in the hub URL (the same
// CA also signs every device and user certificate, so a chain to the pin alone proves no hub); the
// enrollment request itself then trusts only that root. Nothing on disk changes until the hub has
// answered with a certificate that matches our key and chains to that root.
import { X509Certificate } from 'node:crypto';
import { accessSync, constants, existsSync, readFileSync, rmSync } from 'node:fs';
import tls, { type DetailedPeerCertificate, type PeerCertificate } from 'node:tls';
import * as z from 'zod';
import { CliError, UsageError } from '../shared/errors.js';
import { ensureDir, writeFileAtomic } from '../shared/fs.js';
import { chainLeadsToRoot, createCsr, generateKeyPair, normalizeFingerprint, splitPem } from '../shared/pki.js';
import { IssuedCertificateSchema, SerialSchema } from '../shared/schemas.js';
import { type AgentPaths, AgentConfigSchema, type OwnerSettings, agentPaths, loadAgentConfig, readOwnerSettings } from './config.js';
import { apiMessage, hubRequest, networkError } from './hub-api.js';
import { certificateMatchesKey, readDaemonState, writeIdentity } from './identity.js';
import { installDefaultModules } from './modules/install.js';
import { detectSerial } from './serial.js';

export const HubUrlSchema = z.string().transform((s, ctx) => {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'not a URL (expected https://HOST:PORT)' });
    return z.NEVER;
  }
  if (u.protocol !== 'https:') {
    ctx.addIssue({ code: 'custom', message: 'the hub URL must start with https://' });
    return z.NEVER;
  }
  return `https://${u.host}`;
});
export { ApiKeySchema as ApiKeyArgSchema } from '../shared/api-key.js';

export interface ConnectOptions {
  hub: string;
  apiKey: string;
  fingerprint: string;
  configDir: string;
  serial?: string;
  force?: boolean;
}

/** The PEM chain a TLS server presents, leaf first, without verifying anything. */
function presentedChain(peer: PeerCertificate & { issuerCertificate?: PeerCertificate }): string[] {
  const pems: string[] = [];
  const seen = new Set<string>();
  let c: (PeerCertificate & { issuerCertificate?: PeerCertificate }) | undefined = peer;
  while (c?.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    pems.push(new X509Certificate(c.raw).toString());
    c = c.issuerCertificate as typeof c;
  }
  return pems;
}

/** What the hub presented, as far as the probe can tell. */
export type HubProbe =
  | { ok: true; root: string }
  | { ok: false; problem: 'not-pinned' } // the chain does not lead to the pinned root
  | { ok: false; problem: 'not-server' } // the leaf lacks the extended key usage serverAuth
  | { ok: false; problem: 'wrong-host'; host: string; names: string[] }; // the leaf does not cover the URL's host

const SERVER_AUTH_OID = '1.3.6.1.5.5.7.3.1';

/**
 * Connects with TLS only, reads the chain the hub presents and checks it: it leads to the pinned
 * fingerprint, and its leaf is a server certificate for the URL's host. No byte of HTTP is sent, so a
 * wrong hub never sees a request.
 */
export function probeHub(hub: string, fingerprint: string, timeoutMs = 10_000): Promise<HubProbe> {
  const u = new URL(hub);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host,
      port: Number(u.port || 443),
      servername: /^[\d.]+$|:/.test(u.hostname) ? undefined : u.hostname,
      rejectUnauthorized: false, // we verify the chain ourselves against the pin, below
      minVersion: 'TLSv1.3',
      timeout: timeoutMs,
    });
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate(true);
      socket.destroy();
      resolve(checkPresented(peer, host, fingerprint));
    });
    socket.once('timeout', () => socket.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    socket.once('error', (err) => reject(networkError(hub, err as NodeJS.ErrnoException)));
  });
}

function checkPresented(peer: DetailedPeerCertificate, host: string, fingerprint: string): HubProbe {
  const root = chainLeadsToRoot(presentedChain(peer), fingerprint);
  if (!root) return { ok: false, problem: 'not-pinned' };
  if (!(peer.ext_key_usage ?? []).includes(SERVER_AUTH_OID)) return { ok: false, problem: 'not-server' };
  // The check https applies afterwards, made before the key goes out: for an IP, only an IP SAN counts.
  if (tls.checkServerIdentity(host, peer) !== undefined) return { ok: false, problem: 'wrong-host', host, names: certNames(peer) };
  return { ok: true, root };
}

/** The DNS names and addresses a certificate covers, as a user would type them. */
function certNames(peer: PeerCertificate): string[] {
  return (peer.subjectaltname ?? '').split(/,\s*/).flatMap((san) => {
    if (san.startsWith('DNS:')) return [san.slice(4)];
    if (!san.startsWith('IP Address:')) return [];
    const ip = san.slice(11);
    return [ip.includes(':') ? new URL(`https://[${ip}]`).hostname.slice(1, -1) : ip]; // 0:0:…:1 → ::1
  });
}

/** The one message for a probe that failed: what is wrong, and that the key stayed here. */
function probeError(hub: string, fp: string, probe: Exclude<HubProbe, { ok: true }>): CliError {
  const notSent = 'the API key was not sent';
  switch (probe.problem) {
    case 'not-pinned':
      return new CliError(`the hub at ${hub} does not chain to the root CA with fingerprint ${fp}; ${notSent}`, 1,
        'check the fingerprint (pi-hub ca fingerprint on the hub) and the address');
    case 'not-server':
      return new CliError(`the hub at ${hub} presents a certificate that is not a TLS server certificate (no extended key usage serverAuth); ${notSent}`, 1,
        'it is signed by the hub\'s CA but was not issued to the hub (a device or user certificate?): check that this address and port are the hub\'s');
    case 'wrong-host':
      return new CliError(`the hub at ${hub} presents a certificate for ${probe.names.join(', ') || 'no host name or address'}, not for ${probe.host}; ${notSent}`, 1,
        `use one of those names in --hub, or add ${probe.host} to "serverNames" in the hub's hub.json and restart pi-hub (it then makes a new certificate)`);
  }
}

function assertWritable(dir: string): void {
  try {
    ensureDir(dir, 0o700);
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(`cannot write to ${dir}: ${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (err as Error).message}`, 1,
      'run it with sudo, or pass --config-dir DIR');
  }
}

export async function connect(o: ConnectOptions): Promise<string> {
  const hub = HubUrlSchema.parse(o.hub);
  const fp = normalizeFingerprint(o.fingerprint);
  if (!fp) throw new UsageError('--fingerprint: expected the SHA-256 fingerprint of the hub\'s root CA (64 hex digits, colons optional)', 'the hub shows it: pi-hub ca fingerprint');
  const paths = agentPaths(o.configDir);
  assertWritable(o.configDir);
  if (existsSync(paths.config) && !o.force) {
    let current = '';
    try { const c = loadAgentConfig(o.configDir); current = ` to ${c.hub} as ${c.serial}`; } catch { /* unreadable: still connected */ }
    throw new CliError(`this Pi is already connected${current}`, 1, 'pass --force to connect it again (the old identity is replaced only if the new one succeeds)');
  }
  const serial = o.serial ?? (await detectSerial());
  if (!serial) throw new CliError('cannot find this Pi\'s serial number', 1, 'pass --serial S');
  if (!SerialSchema.safeParse(serial).success) throw new UsageError(`--serial: ${serial} is not a serial (1–64 of A–Z, a–z, 0–9, _ and -)`);
  // Connecting again keeps the owner's settings and replaces only the identity; settings that would not
  // load are refused here, before the hub issues a certificate (and revokes the one in use).
  const previous = readOwnerSettings(paths.config, { hub, serial });

  const probe = await probeHub(hub, fp);
  if (!probe.ok) throw probeError(hub, fp, probe);
  const { root } = probe;
  const kp = await generateKeyPair();
  const res = await hubRequest(hub, {
    method: 'POST', path: '/api/v1/enroll', bearer: o.apiKey, ca: root,
    body: { serial, csr: await createCsr(serial, kp.keys) },
  });
  switch (res.status) {
    case 201: break;
    case 401: throw new CliError(`the hub refused the API key: ${apiMessage(res.body, 'unknown or revoked API key')}`, 1, 'create a new one on the hub: pi-hub apikey create --user NAME');
    case 409: throw new CliError(apiMessage(res.body, `serial ${serial} is enrolled by another user`));
    case 429: throw new CliError('the hub is rate-limiting enrollments from here; wait a minute and try again');
    default: throw new CliError(`the hub refused the enrollment (HTTP ${res.status}): ${apiMessage(res.body, 'no reason given')}`);
  }
  const parsed = IssuedCertificateSchema.safeParse(res.body);
  if (!parsed.success) throw new CliError('the hub answered with something that is not a certificate');
  const issued = parsed.data;
  const leaf = new X509Certificate(issued.certificate);
  if (!certificateMatchesKey(leaf, kp.privateKeyPem)) throw new CliError('the hub returned a certificate for another key');
  if (!chainLeadsToRoot([issued.certificate, ...splitPem(issued.chain)], fp)) throw new CliError('the certificate the hub returned does not chain to the pinned root');

  const config = AgentConfigSchema.parse({ ...previous, hub, serial, trustDomain: issued.trustDomain, userId: issued.userId });
  writeIdentity(paths, kp.privateKeyPem, issued.certificate, issued.chain);
  writeFileAtomic(paths.config, JSON.stringify(stripDefaults(config, previous), null, 2) + '\n', 0o600);
  const modules = await installDefaultModules(o.configDir);
  return [
    `connected: this Pi is ${serial} on ${hub} (certificate valid until ${leaf.validTo})`,
    modules.installed.length ? `installed modules: ${modules.installed.join(', ')} in ${paths.modules}` : '',
    'next: sudo systemctl enable --now pi-agent',
  ].filter(Boolean).join('\n');
}

/** Writes only the identity and what the owner set before, so new defaults apply to old files. */
function stripDefaults(config: z.infer<typeof AgentConfigSchema>, previous: OwnerSettings): Record<string, unknown> {
  const out: Record<string, unknown> = { hub: config.hub, serial: config.serial, trustDomain: config.trustDomain, userId: config.userId };
  for (const k of Object.keys(previous)) if (!(k in out)) out[k] = (config as Record<string, unknown>)[k];
  return out;
}

export async function disconnect(configDir: string): Promise<string> {
  const config = loadAgentConfig(configDir);
  const paths = agentPaths(configDir, config.stateDir);
  let said: string;
  try {
    const res = await hubRequest(config.hub, {
      method: 'POST', path: '/api/v1/disconnect', ca: readFileSync(paths.chain, 'utf8'),
      cert: readFileSync(paths.cert, 'utf8'), key: readFileSync(paths.key, 'utf8'), timeoutMs: 10_000,
    });
    said = res.status === 200 ? 'the hub revoked this Pi\'s certificate' : `the hub did not revoke the certificate (HTTP ${res.status}: ${apiMessage(res.body, 'no reason')})`;
  } catch (err) {
    said = `could not reach the hub (${(err as Error).message}); the certificate stays valid there until it expires or is revoked on the hub`;
  }
  for (const f of [paths.config, paths.cert, paths.key, paths.chain]) rmSync(f, { force: true });
  return `disconnected ${config.serial} from ${config.hub}: ${said}\nthe modules in ${paths.modules} were kept`;
}

export function statusText(configDir: string): string {
  const config = loadAgentConfig(configDir);
  const paths = agentPaths(configDir, config.stateDir);
  const lines = [`hub:         ${config.hub}`, `serial:      ${config.serial}`];
  try {
    const cert = new X509Certificate(readFileSync(paths.cert, 'utf8'));
    const days = (new Date(cert.validTo).getTime() - Date.now()) / 86_400_000;
    lines.push(`certificate: ${days < 0 ? 'EXPIRED' : 'valid'} until ${new Date(cert.validTo).toISOString()} (${days.toFixed(1)} days)`);
  } catch {
    lines.push(`certificate: missing or unreadable (${paths.cert})`);
  }
  lines.push(`daemon:      ${daemonStateText(paths)}`);
  return lines.join('\n');
}

function daemonStateText(paths: AgentPaths): string {
  const state = readDaemonState(paths);
  if (!state) return 'not running';
  try {
    process.kill(state.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return 'not running';
  }
  const since = new Date(state.since).toISOString();
  return state.connected ? `running (pid ${state.pid}), connected since ${since}` : `running (pid ${state.pid}), not connected (since ${since})`;
}
