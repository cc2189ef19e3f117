// A browser with a user certificate (pi-hub cert issue) on a hub run with --client-auth need: signed in
// without a password, its MQTT connection authenticated by the certificate too; a browser without one
// does not even get the page.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { TestAgent } from '../helpers/agent.js';
import { TestHub, type UserCredentials } from '../helpers/hub.js';
import { Guard, launch, newContext, row } from './browser.js';

const SERIAL = 'pi-cert-e2e';
let hub: TestHub;
let agent: TestAgent;
let browser: Browser;
let carol: UserCredentials;

before(async () => {
  // A Pi enrolls while the hub accepts connections without a certificate; then the hub needs one.
  const enrolling = await TestHub.start();
  await enrolling.addUser('carol');
  carol = await enrolling.userCert('carol');
  agent = await TestAgent.connect(enrolling, await enrolling.apiKey('carol'), SERIAL, { config: { statsIntervalSec: 2 } });
  await enrolling.daemon.stop();
  hub = await TestHub.start({ dataDir: enrolling.dataDir, port: enrolling.port, mqttsPort: enrolling.mqttsPort, clientAuth: 'need' });
  await agent.start();
  browser = await launch(hub);
});

after(async () => {
  await browser?.close();
  await agent?.remove();
  await hub?.stop();
  if (hub) rmSync(hub.dataDir, { recursive: true, force: true });
});

describe('a client certificate in the browser, --client-auth need', () => {
  it('signs its user in without a password and the page goes live over MQTT', async () => {
    const guard = new Guard(hub.httpsUrl);
    // Playwright presents client certificates through its own TLS proxy, whose connection to the hub it
    // verifies itself, against Node's CAs: it cannot be told the hub's CA, so here errors are ignored.
    const context = await newContext(browser, hub, guard, {
      ignoreHTTPSErrors: true,
      clientCertificates: [{ origin: hub.httpsUrl, cert: Buffer.from(carol.cert), key: Buffer.from(carol.key) }],
    });
    const page = await context.newPage();
    await page.goto('/');
    await page.getByRole('heading', { name: 'Devices' }).waitFor();
    assert.equal(await page.getByLabel('Password').count(), 0, 'no login page');
    assert.equal(await page.locator('.user').innerText(), 'carol');
    assert.equal(await page.getByRole('button', { name: 'Log out' }).count(), 0, 'nothing to log out of');
    await page.getByRole('status', { name: /Connection to the hub: Live/ }).waitFor({ timeout: 10_000 });
    await row(page, SERIAL).getByText('Online').waitFor({ timeout: 15_000 });
    assert.deepEqual(guard.problems, []);
    await context.close();
  });

  it('without a certificate the hub refuses the browser at the TLS handshake', async () => {
    const guard = new Guard(hub.httpsUrl);
    const context = await newContext(browser, hub, guard);
    const page = await context.newPage();
    await assert.rejects(page.goto('/'), /ERR_(SSL|BAD_SSL|CONNECTION)|net::/);
    await context.close();
  });
});
