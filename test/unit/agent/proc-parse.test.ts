// Table-driven tests of the /proc parsers behind the stats (agent/proc-parse.ts): each row a file's
// text and the exact figures. The sampler over whole fixture files and a real read of this machine's are
// in test/integration/agent/proc-stats.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cpuLoad, diskUsage, parseMeminfo, parseMountinfo, parseNetDev, parseProcStat } from '../../../agent/proc-parse.js';

describe('parseProcStat', () => {
  const rows: Array<[string, string, { busy: number; total: number } | null]> = [
    ['user nice system irq steal are busy; idle, iowait and softirq are not', 'cpu  100 10 50 800 30 5 7 3 0 0\ncpu0 1 2 3 4\n', { busy: 168, total: 968 }],
    ['an old kernel with four columns', 'cpu 10 0 10 80\n', { busy: 20, total: 100 }],
    ['only per-CPU lines: none', 'cpu0 1 2 3 4\n', null],
    ['garbage', 'cpu  a b c d\n', null],
    ['empty', '', null],
  ];
  for (const [name, text, want] of rows) test(name, () => assert.deepEqual(parseProcStat(text), want));
});

describe('cpuLoad', () => {
  const rows: Array<[string, { busy: number; total: number } | null, { busy: number; total: number }, number]> = [
    ['since boot on the first sample', null, { busy: 25, total: 100 }, 25],
    ['between two readings', { busy: 25, total: 100 }, { busy: 75, total: 200 }, 50],
    ['no time passed', { busy: 25, total: 100 }, { busy: 25, total: 100 }, 0],
    ['counters that went backwards stay within 0–100', { busy: 90, total: 100 }, { busy: 10, total: 200 }, 0],
  ];
  for (const [name, before, now, want] of rows) test(name, () => assert.equal(cpuLoad(before, now), want));
});

describe('parseMeminfo', () => {
  const rows: Array<[string, string, { total: number; used: number } | null]> = [
    ['used is total minus available', 'MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 600 kB\n', { total: 1_024_000, used: 409_600 }],
    ['no MemAvailable: free, buffers, cache and slab are available',
      'MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 200 kB\nSwapCached: 999 kB\nSlab: 50 kB\n', { total: 1_024_000, used: 614_400 }],
    ['no MemTotal', 'MemFree: 100 kB\n', null],
  ];
  for (const [name, text, want] of rows) test(name, () => assert.deepEqual(parseMeminfo(text), want));
});

describe('parseMountinfo', () => {
  const line = (dev: string, root: string, mount: string, type: string, source: string) =>
    `1 1 ${dev} ${root} ${mount} rw,relatime shared:1 - ${type} ${source} rw`;
  const rows: Array<[string, string[], string[]]> = [
    ['pseudo filesystems, squashfs and FUSE helpers are left out', [
      line('0:21', '/', '/proc', 'proc', 'proc'), line('0:23', '/', '/run', 'tmpfs', 'tmpfs'), line('179:2', '/', '/', 'ext4', '/dev/mmcblk0p2'),
      line('7:0', '/', '/snap/core/1', 'squashfs', '/dev/loop0'), line('0:47', '/', '/run/user/1000/doc', 'fuse.portal', 'portal'),
    ], ['/']],
    ['a bind mount of a directory is its device once, as the whole filesystem', [
      line('179:2', '/', '/', 'ext4', '/dev/mmcblk0p2'), line('179:2', '/var/lib/docker', '/var/lib/docker', 'ext4', '/dev/mmcblk0p2'),
    ], ['/']],
    ['…even when the bind comes first', [
      line('8:1', '/photos', '/srv/photos', 'exfat', '/dev/sda1'), line('8:1', '/', '/media/usb', 'exfat', '/dev/sda1'),
    ], ['/media/usb']],
    ['one device at two whole mounts: the shorter path', [
      line('8:1', '/', '/media/pi/usb', 'ext4', '/dev/sda1'), line('8:1', '/', '/mnt', 'ext4', '/dev/sda1'),
    ], ['/mnt']],
    ['a mount point mounted over counts as its last mount', [
      line('0:45', '/', '/mnt/nas', 'nfs4', 'nas:/export'), line('0:46', '/', '/mnt/nas', 'cifs', '//nas/share'),
    ], ['/mnt/nas']],
    ['escaped spaces in mount points', [line('8:1', '/', '/media/pi/My\\040Disk', 'exfat', '/dev/sda1')], ['/media/pi/My Disk']],
    ['optional fields of any number, and lines that are not mounts', [
      '1 1 179:1 / /boot rw shared:2 master:3 propagate_from:4 - vfat /dev/mmcblk0p1 rw', 'nonsense', '',
    ], ['/boot']],
  ];
  for (const [name, lines, want] of rows) test(name, () => assert.deepEqual(parseMountinfo(lines.join('\n')).map((m) => m.mount), want));

  test('the fields of a mount', () => {
    assert.deepEqual(parseMountinfo(line('0:46', '/', '/mnt/nas', 'cifs', '//nas/share')), [{ device: '0:46', root: '/', mount: '/mnt/nas', type: 'cifs', source: '//nas/share' }]);
  });
});

test('diskUsage: used is what is not free, reserved blocks included, as df counts', () => {
  assert.deepEqual(diskUsage({ bsize: 4096, blocks: 1000, bfree: 250 }), { size: 4_096_000, used: 3_072_000 });
  assert.deepEqual(diskUsage({ bsize: 4096, blocks: 0, bfree: 0 }), { size: 0, used: 0 });
});

describe('parseNetDev', () => {
  const text = [
    'Inter-|   Receive                                                |  Transmit',
    ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
    '    lo:  812344    9123    0    0    0     0          0         0   812344    9123    0    0    0     0       0          0',
    ' wlan0:918273645  812934    0   12    0     0          0      2331 41234567  212334    0    0    0     0       0          0',
    'docker0: 4096 12 0 0 0 0 0 0 8192 24 0 0 0 0 0 0',
    'short: 1 2 3',
  ].join('\n');
  test('bytes received and sent per interface, a name run into its numbers too', () => {
    assert.deepEqual([...parseNetDev(text)], [
      ['lo', { rxBytes: 812_344, txBytes: 812_344 }],
      ['wlan0', { rxBytes: 918_273_645, txBytes: 41_234_567 }],
      ['docker0', { rxBytes: 4096, txBytes: 8192 }],
    ]);
  });
});
