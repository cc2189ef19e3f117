// The dashboard in a real browser (issue 11), against a real hub and a real pi-agent --sim: signing in,
// the Pi live with its stats, a command's output, a confirmed command's preview (and Cancel running
// nothing, as the agent's own command log shows), adding a second Pi with a key made on the page and
// revoking it, and logging out cutting the page's MQTT connection. Screenshots go to dist/test-artifacts.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { TEST_AGENT_CONFIG, TestAgent } from '../helpers/agent.js';
import { TestHub } from '../helpers/hub.js';
import { AGENT_CLI, Daemon, sleep, waitFor } from '../helpers/process.js';
import { Guard, launch, login, newContext, row, screenshot } from './browser.js';

const SERIAL = 'pi-e2e-1';
const SECOND = 'pi-e2e-2';
const MODULE = {
  id: 'e2e',
  title: 'Test commands',
  commands: {
    hello: { title: 'Say hello', run: ['/bin/echo', 'hello from the e2e Pi'] },
    say: { title: 'Say something', run: ['/bin/echo', '{text}'], params: { text: { title: 'Text', pattern: '^[A-Za-z0-9 ]{1,40}$' } } },
    restart: { title: 'Restart the app', run: ['/bin/echo', 'restarting', '{unit}'], params: { unit: { title: 'Unit', enum: ['web', 'worker'] } }, confirm: true },
  },
};

let hub: TestHub;
let agent: TestAgent;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let guard: Guard;
const cleanup: Array<() => Promise<void> | void> = [];

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** The command lines the agent logged (state dir commands.log): what it was asked to run. */
function commandLog(a: { stateDir: string }): Array<{ event: string; module: string; command: string; params: Record<string, unknown>; moduleSha256?: string }> {
  const file = join(a.stateDir, 'commands.log');
  return existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : [];
}

const text = async (page: Page, selector: string) => (await page.locator(selector).textContent()) ?? '';

before(async () => {
  // A fixed port, so that publicUrl (what "Add a Pi" shows) is an address this machine can reach.
  const port = await freePort();
  hub = await TestHub.start({ port, config: { publicUrl: `https://localhost:${port}` } });
  await hub.addUser('alice');
  agent = await TestAgent.connect(hub, await hub.apiKey('alice'), SERIAL, { modules: { 'e2e.json': MODULE } });
  await agent.start();
  browser = await launch(hub);
  guard = new Guard(hub.httpsUrl);
  context = await newContext(browser, hub, guard);
  page = await context.newPage();
});

after(async () => {
  for (const c of cleanup.reverse()) await c();
  await browser?.close();
  await agent?.remove();
  await hub?.stop();
});

describe('the dashboard in a browser', () => {
  it('refuses a wrong password and signs in with the right one', async () => {
    await page.goto('/');
    await page.getByLabel('User name').fill('alice');
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong user name or password' }).waitFor();
    await screenshot(page, 'login');
    assert.equal(await page.getByRole('heading', { name: 'Devices' }).count(), 0, 'still on the login page');
    await login(page, 'alice');
    await page.getByRole('heading', { name: 'Devices' }).waitFor();
    assert.equal(await text(page, '.user'), 'alice');
  });

  it('shows the Pi online, with its model, temperature and last data; then its stats live on its page', async () => {
    const r = row(page, SERIAL);
    await r.getByText('Online').waitFor({ timeout: 15_000 });
    await waitFor(async () => /°C/.test(await r.locator('td[data-label="Temperature"]').innerText()), 15_000, 'a temperature');
    assert.match(await r.locator('.last-data').innerText(), /just now|s ago/);
    assert.match(await r.locator('td[data-label="Model"]').innerText(), /Raspberry Pi 4/);
    await page.getByRole('status', { name: /Connection to the hub: Live/ }).waitFor();
    await screenshot(page, 'device-list');

    await r.getByRole('link', { name: SERIAL }).click();
    await page.getByRole('heading', { name: SERIAL }).waitFor();
    assert.equal(new URL(page.url()).hash, `#/devices/${SERIAL}`);
    const points = async () => Number(await page.locator('.charts').getAttribute('data-points'));
    await waitFor(async () => (await points()) >= 1, 10_000, 'a first point on the charts');
    const first = await points();
    await waitFor(async () => (await points()) > first, 10_000, 'live points appended (stats every second)');
    assert.match(await page.locator('.tile', { hasText: 'CPU' }).innerText(), /\d+ %/);
  });

  it('runs an allowed command and shows its output and exit code', async () => {
    await page.getByRole('button', { name: 'Run Say hello' }).click();
    const result = page.getByRole('article', { name: 'Result of Say hello' });
    await result.getByText('exit code 0').waitFor({ timeout: 10_000 });
    assert.match(await result.getByLabel('Output').innerText(), /^hello from the e2e Pi\s*$/);

    await page.getByRole('form', { name: 'Say something' }).getByLabel('Text').fill('pins and needles');
    await page.getByRole('button', { name: 'Run Say something' }).click();
    // Its output, not the parameter shown beside it (`text=pins and needles`, there from the start).
    const said = page.getByRole('article', { name: 'Result of Say something' });
    await said.getByText('exit code 0').waitFor({ timeout: 10_000 });
    assert.match(await said.getByLabel('Output').innerText(), /^pins and needles\s*$/);
    await screenshot(page, 'device-page');
  });

  it('runs the doctor and shows its report', async () => {
    await page.getByRole('button', { name: 'Run checks' }).click();
    const checks = page.getByRole('list', { name: 'Doctor checks' });
    await checks.waitFor({ timeout: 20_000 });
    assert.ok(await checks.getByRole('listitem').count() >= 3, 'the shipped doctor module has several checks');
    assert.match(await checks.innerText(), /Pass/);
  });

  it('previews a confirm command (argv, user, module) and Cancel runs nothing: the agent logs no request', async () => {
    const form = page.getByRole('form', { name: 'Restart the app' });
    await form.getByLabel('Unit').selectOption('worker');
    await page.getByRole('button', { name: 'Run Restart the app' }).click();
    const dialog = page.getByRole('dialog', { name: `Run “Restart the app” on ${SERIAL}?` });
    await dialog.waitFor();
    assert.equal(await dialog.getByLabel('User').innerText(), 'nobody');
    assert.match(await dialog.innerText(), /Module\s+e2e from e2e\.json/);
    // exactly what will run: the argv with the parameter filled in, and the version of the file in force
    assert.equal(await dialog.getByLabel('Command line').innerText(), '/bin/echo restarting worker');
    const sha = createHash('sha256').update(readFileSync(join(agent.configDir, 'modules', 'e2e.json'))).digest('hex');
    assert.equal(await dialog.getByLabel('Module file SHA-256').getAttribute('title'), sha);
    assert.equal(await dialog.getByRole('note').count(), 0, 'nothing is missing from the preview');
    await screenshot(page, 'confirm-dialog', { viewport: true });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await sleep(1500); // a request would reach the agent in milliseconds
    assert.deepEqual(commandLog(agent).filter((l) => l.command === 'restart'), [], 'Cancel sent nothing');
    assert.equal(await page.getByRole('article', { name: 'Result of Restart the app' }).count(), 0);

    // The same dialog's Run does reach the agent, and the log shows it: the check above can fail.
    await page.getByRole('button', { name: 'Run Restart the app' }).click();
    await dialog.getByRole('button', { name: 'Run Restart the app' }).click();
    await page.getByRole('article', { name: 'Result of Restart the app' }).getByText('restarting worker').waitFor({ timeout: 10_000 });
    const logged = commandLog(agent).filter((l) => l.command === 'restart' && l.event === 'request');
    assert.deepEqual(logged.map((l) => l.params), [{ unit: 'worker' }]);
    assert.deepEqual(logged.map((l) => l.moduleSha256), [sha], 'the request names the version previewed');
  });

  it('makes a key that is shown once; pi-agent connect with it brings a second Pi online; revoking the key takes it offline', async () => {
    await page.getByRole('link', { name: 'Add a Pi' }).first().click();
    await page.getByRole('button', { name: 'Create a key' }).click();
    const line = await page.getByLabel('Command for the Pi', { exact: true }).innerText();
    const key = await page.getByLabel('API key', { exact: true }).innerText();
    assert.equal(line, `sudo pi-agent connect --hub https://localhost:${hub.port} --fingerprint ${hub.fingerprint} --api-key -`);
    assert.match(key, /^pk_[A-Za-z0-9_-]+$/);
    await screenshot(page, 'add-a-pi');
    assert.ok(!line.includes(key), 'the key is not on the command line');
    assert.equal(await page.getByRole('button', { name: /^Copy / }).count(), 2, 'a copy button for each');

    // On the "Pi": exactly that line (without sudo: the tests run as root), the key pasted on standard input.
    const dir = mkdtempSync(join(tmpdir(), 'pifleet-agent-'));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const args = line.split(' ').slice(2);
    const r = await TestAgent.cli([...args, '--serial', SECOND, '--config-dir', dir], { stdin: `${key}\n` });
    assert.equal(r.code, 0, r.stderr);
    rmSync(join(dir, 'modules', 'core.json')); // it would really reboot
    const config = JSON.parse(readFileSync(join(dir, 'agent.json'), 'utf8'));
    writeFileSync(join(dir, 'agent.json'), JSON.stringify({ ...config, ...TEST_AGENT_CONFIG }));
    const second = Daemon.start(AGENT_CLI, ['run', '--config-dir', dir, '--sim'], `agent ${SECOND}`);
    cleanup.push(async () => { await second.stop('SIGKILL'); });

    await page.getByRole('status').filter({ hasText: `${SECOND} joined` }).waitFor({ timeout: 15_000 });
    await page.getByRole('link', { name: 'Devices' }).first().click();
    await row(page, SECOND).getByText('Online').waitFor({ timeout: 10_000 });

    // The key is listed once, without its secret; revoking it cuts the Pi it enrolled.
    await page.getByRole('link', { name: 'API keys' }).click();
    const keyId = /^pk_([^_]+)_/.exec(key)![1]!;
    await page.getByRole('table', { name: 'API keys' }).getByText(keyId).waitFor();
    assert.ok(!(await page.content()).includes(key), 'the secret is not shown again');
    await page.getByRole('button', { name: `Revoke ${keyId}` }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke the key' }).click();
    await page.getByRole('status').filter({ hasText: 'certificates of 1 Pi' }).waitFor();
    await screenshot(page, 'api-keys');
    await page.getByRole('link', { name: 'Devices' }).first().click();
    await row(page, SECOND).getByText('Offline').waitFor({ timeout: 10_000 });
    assert.equal(await row(page, SERIAL).getByText('Online').count(), 1, 'the first Pi is untouched');

    // The audit log shows what the page did; a removed Pi leaves the list.
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('table', { name: 'Audit log' }).getByText('apikey.revoke').waitFor();
    await screenshot(page, 'audit-log');
    await page.goto(`/#/devices/${SECOND}`);
    await page.getByRole('button', { name: 'Remove…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: `Remove ${SECOND}` }).click();
    await page.getByRole('heading', { name: 'Devices' }).waitFor();
    await waitFor(async () => (await row(page, SECOND).count()) === 0, 5_000, `${SECOND} to leave the list`);
    assert.equal((await hub.request('GET', '/api/v1/devices', undefined, { authorization: `Bearer ${await hub.apiKey('alice', ['--scope', 'read'])}` })).text.includes(SECOND), false);
  });

  it('fits a phone screen: nothing wider than the screen, every page', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = () => page.evaluate('document.documentElement.scrollWidth - window.innerWidth') as Promise<number>;
    for (const [hash, name] of [['#/', 'phone-device-list'], [`#/devices/${SERIAL}`, 'phone-device-page'], ['#/add', null], ['#/keys', null], ['#/sessions', null], ['#/audit', null]] as const) {
      await page.goto(`/${hash}`);
      await page.getByRole('heading', { level: 1 }).first().waitFor();
      if (hash === '#/sessions') await page.getByText('this one').waitFor();
      if (name) {
        await sleep(500); // the charts take their width
        await screenshot(page, name);
      }
      assert.ok((await overflow()) <= 0, `${hash} is ${await overflow()} px wider than the screen`);
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('logging out cuts the MQTT connection of every window of that session', async () => {
    const other = await context.newPage();
    const closed = new Promise<void>((resolve) => other.on('websocket', (ws) => ws.on('close', () => resolve())));
    await other.goto('/');
    await row(other, SERIAL).getByText('Online').waitFor({ timeout: 10_000 });
    const t0 = Date.now();
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await closed; // the hub cut the other window's connection: it did not close it itself
    assert.ok(Date.now() - t0 < 3000, `cut within a second or so (${Date.now() - t0} ms)`);
    await other.getByText('Your session has ended').waitFor({ timeout: 10_000 });
    await other.close();
  });

  it('made no request to another origin and broke no CSP rule', () => {
    assert.deepEqual(guard.problems, []);
  });
});
