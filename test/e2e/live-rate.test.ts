// What the page costs and how much it keeps up with, on loopback: its bytes, its time to first render,
// and how many stats messages a second the device page takes in while it still draws frames. A Pi
// made of an MQTT client publishes the stats, so the rate is the test's to choose. The numbers are
// printed as diagnostics, never asserted (a timing is a measurement, not a test); what is asserted is
// the page's size and that it loses no message at 200 a second. PIFLEET_MEASURE=1 sweeps higher rates.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import type { Stats } from '../../shared/schemas.js';
import { TestHub } from '../helpers/hub.js';
import { connect, end } from '../helpers/mqtt.js';
import { manifest, status } from '../helpers/payloads.js';
import { ROOT, sleep, waitFor } from '../helpers/process.js';
import { Guard, launch, login, newContext, row } from './browser.js';

const SERIAL = 'pi-rate';
let hub: TestHub;
let pi: MqttClient;
let browser: Browser;
let page: Page;
let seq = 0;

const sample = (): Stats => ({
  v: 1, ts: Date.now(), cpu: { load: 20 + (seq++ % 50), tempC: 50 }, mem: { total: 4e9, used: 1e9 },
  disk: [{ mount: '/', size: 3e10, used: 6e9 }], net: [{ iface: 'eth0', rxBytes: seq * 1000, txBytes: seq * 500 }], uptimeSec: 1000 + seq,
});

/** Publishes `rate` stats a second for `ms`, in 10 ms batches; returns how many it sent. */
async function flood(rate: number, ms: number): Promise<number> {
  let sent = 0;
  const start = Date.now();
  while (Date.now() - start < ms) {
    const due = Math.floor(((Date.now() - start) / 1000) * rate) - sent;
    for (let i = 0; i < due; i++) pi.publish(`devices/${SERIAL}/stats`, JSON.stringify(sample()), { qos: 0 });
    sent += Math.max(0, due);
    await sleep(10);
  }
  return sent;
}

const messages = async () => Number(await page.locator('.link-state').getAttribute('data-messages'));

before(async () => {
  hub = await TestHub.start();
  await hub.addUser('alice');
  const creds = await hub.enrollDevice(await hub.apiKey('alice'), SERIAL);
  pi = await connect(hub, creds, { transport: 'mqtts', clientId: SERIAL });
  pi.publish(`devices/${SERIAL}/status`, JSON.stringify(status(true)), { qos: 1, retain: true });
  pi.publish(`devices/${SERIAL}/manifest`, JSON.stringify({ ...manifest('pi-rate'), device: { model: 'Raspberry Pi 5 Model B', hostname: 'pi-rate' } }), { qos: 1, retain: true });
  browser = await launch(hub);
  page = await (await newContext(browser, hub, new Guard(hub.httpsUrl))).newPage();
});

after(async () => {
  if (pi) await end(pi);
  await browser?.close();
  await hub?.stop();
});

describe('the page on loopback', () => {
  it('is small and renders fast', async (t) => {
    const dir = join(ROOT, 'dist', 'dashboard');
    const files = ['index.html', ...readdirSync(join(dir, 'assets')).map((f) => `assets/${f}`)];
    const raw = files.reduce((n, f) => n + readFileSync(join(dir, f)).length, 0);
    const gz = files.reduce((n, f) => n + gzipSync(readFileSync(join(dir, f)), { level: 9 }).length, 0);
    t.diagnostic(`page files: ${files.length}, ${raw} bytes, ${gz} bytes gzipped`);
    assert.ok(gz < 120_000, `the page stays small (${gz} bytes gzipped)`);

    const t0 = Date.now();
    await page.goto('/');
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    const loginMs = Date.now() - t0;
    const fcp = await page.evaluate('performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? null') as number | null;
    const transferred = await page.evaluate('performance.getEntriesByType("navigation").concat(performance.getEntriesByType("resource")).reduce((n, e) => n + e.transferSize, 0)') as number;
    // Again, in a new context of the same (now warm) browser: nothing cached, nothing starting up.
    const fresh = await (await newContext(browser, hub, new Guard(hub.httpsUrl))).newPage();
    const t2 = Date.now();
    await fresh.goto('/');
    await fresh.getByRole('button', { name: 'Sign in' }).waitFor();
    const warmMs = Date.now() - t2;
    const warmFcp = await fresh.evaluate('performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? null') as number | null;
    await fresh.context().close();
    t.diagnostic(`a warm browser, empty cache: first contentful paint ${warmFcp?.toFixed(0)} ms, usable ${warmMs} ms`);
    await login(page, 'alice');
    const t1 = Date.now();
    await row(page, SERIAL).getByText('Online').waitFor();
    t.diagnostic(`login page: first contentful paint ${fcp?.toFixed(0)} ms, usable ${loginMs} ms; ${transferred} bytes over the wire; device list live ${Date.now() - t1} ms after signing in`);
  });

  it('takes in every stats message at 200 a second while drawing frames', async (t) => {
    await page.goto(`/#/devices/${SERIAL}`);
    await page.getByRole('heading', { name: SERIAL }).waitFor();
    await page.evaluate('window.__frames = 0; (function f() { window.__frames++; requestAnimationFrame(f); })()');
    const rates = process.env.PIFLEET_MEASURE ? [200, 500, 1000, 2000, 4000, 8000] : [200];
    for (const rate of rates) {
      await sleep(500);
      const m0 = await messages();
      const f0 = await page.evaluate('window.__frames') as number;
      const t0 = Date.now();
      const sent = await flood(rate, 3000);
      // What is in flight arrives within a moment; what the hub dropped for a slow reader never does.
      await waitFor(async () => (await messages()) - m0 >= sent, 2000, 'the page to catch up').catch(() => {});
      const secs = (Date.now() - t0) / 1000;
      const got = (await messages()) - m0;
      const fps = ((await page.evaluate('window.__frames') as number) - f0) / secs;
      t.diagnostic(`${rate}/s offered: ${sent} sent, ${got} taken in (${Math.round(got / 3)}/s), ${fps.toFixed(0)} frames/s`);
      if (rate === 200) {
        assert.ok(got >= sent * 0.98, `${got} of ${sent} taken in`);
        assert.ok(fps > 0, 'the page still draws frames');
      }
    }
    assert.match(await page.locator('.tile', { hasText: 'CPU' }).innerText(), /\d+ %/);
  });
});
