// `npm start` is `pi-hub demo`: a hub on 127.0.0.1 with one simulated Pi. What a new user does with it:
// open the printed address, log in with the printed login, and find the Pi online with stats.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Daemon, HUB_CLI, waitFor } from '../../helpers/process.js';

const dir = mkdtempSync(join(tmpdir(), 'pifleet-demo-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function get(url: string, ca: string, headers: Record<string, string> = {}, body?: unknown): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(url, {
      method: body === undefined ? 'GET' : 'POST', ca,
      headers: { ...headers, ...(data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}) },
    }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

describe('pi-hub demo (npm start)', () => {
  it('prints the dashboard and a login that works; the simulated Pi is online with stats; Ctrl-C stops it all', async () => {
    const demo = Daemon.start(HUB_CLI, ['demo', '--data-dir', dir, '--port', '0', '--mqtts-port', '0'], 'demo');
    try {
      const url = (await demo.waitForLine(/^ {2}dashboard: +(https:\/\/localhost:\d+\/)$/, 60_000, 0))[1]!;
      const [, user, password] = await demo.waitForLine(/^ {2}login: +(\S+) \/ (\S+)$/, 5_000, 0);
      await demo.waitForLine(/^ {2}fingerprint: +[0-9A-F:]{95}$/, 5_000, 0);
      const ca = readFileSync(join(dir, 'hub', 'ca', 'issuing.crt'), 'utf8') + readFileSync(join(dir, 'hub', 'ca', 'root.crt'), 'utf8');
      const page = await get(url, ca);
      assert.equal(page.status, 200);
      assert.match(String(page.headers['content-type']), /^text\/html/);
      const login = await get(`${url}api/v1/session`, ca, { 'x-pifleet-csrf': '1' }, { username: user, password });
      assert.equal(login.status, 204, login.text);
      const cookie = String(login.headers['set-cookie']).split(';')[0]!;
      await waitFor(async () => {
        const r = await get(`${url}api/v1/devices`, ca, { cookie });
        const pi = (JSON.parse(r.text) as { devices: Array<{ serial: string; online: boolean; stats: unknown }> }).devices.find((x) => x.serial === 'demo-pi-0001');
        return pi?.online === true && pi.stats !== null;
      }, 30_000, 'the simulated Pi online with stats');
    } finally {
      const exit = await demo.stop('SIGINT', 20_000);
      assert.deepEqual(exit, { code: 0, signal: null });
    }
  });
});
