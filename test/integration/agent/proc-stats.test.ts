// The stats sampler on Linux (agent/stats.ts): over a Raspberry Pi's /proc files (test/fixtures/proc-pi:
// a Pi Zero 2 W with an SD card, a USB disk also bound into /srv, a snap, a NAS mounted over) the exact
// figures; then a real read of this machine, checked against what node and statfs say.
import assert from 'node:assert/strict';
import { statfs } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ProcStatsSampler } from '../../../agent/stats.js';
import { StatsSchema } from '../../../shared/schemas.js';
import { ROOT } from '../../helpers/process.js';

const FIXTURES = join(ROOT, 'test', 'fixtures', 'proc-pi');
const proc = { stat: join(FIXTURES, 'stat'), meminfo: join(FIXTURES, 'meminfo'), mountinfo: join(FIXTURES, 'mountinfo'), netDev: join(FIXTURES, 'net-dev') };
const sensors = { thermal: join(FIXTURES, 'missing'), model: join(FIXTURES, 'missing'), vcgencmd: join(FIXTURES, 'missing') };

test('a Pi\'s /proc files give the exact stats', async () => {
  const asked: string[] = [];
  const sampler = new ProcStatsSampler({
    proc, sensors,
    interfaces: () => ['lo', 'wlan0', 'usb0'], // usb0 has an address but no counters: left out
    statfs: async (path) => {
      asked.push(path);
      if (path === '/mnt/nas') throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
      return { '/': { bsize: 4096, blocks: 7_500_000, bfree: 5_000_000 }, '/boot/firmware': { bsize: 512, blocks: 1_048_576, bfree: 900_000 } }[path]
        ?? { bsize: 4096, blocks: 0, bfree: 0 };
    },
  });
  const s = StatsSchema.parse(await sampler.sample());
  assert.deepEqual(asked, ['/', '/boot/firmware', '/media/pi/My Disk', '/mnt/nas']);
  assert.deepEqual({ ...s, ts: 0, uptimeSec: 0 }, {
    v: 1, ts: 0, uptimeSec: 0,
    // busy 412873 + 1022 + 98412 + 0 + 0 of 9246719 since boot
    cpu: { load: 5.5, tempC: null },
    mem: { total: 428_108 * 1024, used: (428_108 - 270_544) * 1024 },
    disk: [
      { mount: '/', size: 30_720_000_000, used: 10_240_000_000 },
      { mount: '/boot/firmware', size: 536_870_912, used: 76_070_912 },
    ],
    net: [{ iface: 'wlan0', rxBytes: 918_273_645, txBytes: 41_234_567 }],
    throttled: null,
  });
});

test('the load is measured between samples', async () => {
  const sampler = new ProcStatsSampler({ proc, sensors, interfaces: () => [], statfs: () => Promise.reject(new Error('none')) });
  await sampler.sample();
  assert.equal((await sampler.sample()).cpu.load, 0, 'the same /proc/stat twice: nothing happened in between');
});

test('a mount whose statfs hangs is left out, and not asked again until it answers', { timeout: 10_000 }, async () => {
  let release = () => {};
  let hung = 0;
  let answers = false;
  const sampler = new ProcStatsSampler({
    proc, sensors, interfaces: () => [],
    statfs: (path) => {
      if (path !== '/mnt/nas' || answers) return Promise.resolve({ bsize: 4096, blocks: 10, bfree: 5 });
      hung++;
      return new Promise((resolve) => { release = () => resolve({ bsize: 4096, blocks: 10, bfree: 5 }); });
    },
  });
  const first = await sampler.sample();
  assert.deepEqual(first.disk.map((d) => d.mount), ['/', '/boot/firmware', '/media/pi/My Disk']);
  await sampler.sample();
  assert.equal(hung, 1, 'one statfs of the hung mount at a time');
  answers = true;
  release();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual((await sampler.sample()).disk.map((d) => d.mount), ['/', '/boot/firmware', '/media/pi/My Disk', '/mnt/nas']);
});

test('missing files give empty figures, not an exception', async () => {
  const gone = join(FIXTURES, 'missing');
  const s = await new ProcStatsSampler({ proc: { stat: gone, meminfo: gone, mountinfo: gone, netDev: gone }, sensors, interfaces: () => ['eth0'] }).sample();
  assert.deepEqual({ cpu: s.cpu, mem: s.mem, disk: s.disk, net: s.net }, { cpu: { load: 0, tempC: null }, mem: { total: 0, used: 0 }, disk: [], net: [] });
});

test('this machine, for real', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const sampler = new ProcStatsSampler();
  await sampler.sample();
  await new Promise((r) => setTimeout(r, 300));
  const s = StatsSchema.parse(await sampler.sample());
  assert.equal(s.mem.total, totalmem());
  assert.ok(s.mem.used > 0 && s.mem.used < s.mem.total);
  assert.ok(s.cpu.load >= 0 && s.cpu.load <= 100);
  const root = s.disk.find((d) => d.mount === '/');
  assert.ok(root, `the root filesystem among ${s.disk.map((d) => d.mount).join(', ')}`);
  const fs = await statfs('/');
  assert.equal(root.size, fs.blocks * fs.bsize);
  assert.ok(root.used > 0 && root.used <= root.size);
  assert.ok(s.net.every((n) => n.iface !== 'lo'));
  assert.ok(s.uptimeSec > 0);
});
