// Type=notify: with NOTIFY_SOCKET set, the daemon sends READY=1 (with our pid as MAINPID) once it is
// connected, WATCHDOG=1 pings at half of WATCHDOG_USEC, and STOPPING=1 on SIGTERM. The receiving end is
// a real AF_UNIX datagram socket (Node cannot open one, Python can), the sender Debian's systemd-notify.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { TestAgent } from '../../helpers/agent.js';
import { TestHub } from '../../helpers/hub.js';
import { Daemon, waitFor } from '../../helpers/process.js';
import { spawn } from 'node:child_process';

const RECEIVER = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    data = s.recv(4096).decode()
    print("MSG " + data.replace("\\n", " "), flush=True)
`;

let hub: TestHub;
let agent: TestAgent;
let receiver: Daemon;
let dir: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pifleet-notify-'));
  receiver = new Daemon(spawn('/usr/bin/python3', ['-c', RECEIVER, join(dir, 'notify.sock')], { stdio: ['ignore', 'pipe', 'pipe'] }), 'notify');
  await receiver.waitForLine(/^bound$/, 5_000, 0);
  hub = await TestHub.start();
  await hub.addUser('alice');
  agent = await TestAgent.connect(hub, await hub.apiKey('alice'), 'pi-notify', {
    env: { NOTIFY_SOCKET: join(dir, 'notify.sock'), WATCHDOG_USEC: '2000000' },
  });
});
after(async () => {
  await agent.remove();
  await hub.stop();
  await receiver.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test('READY=1 once connected, WATCHDOG=1 pings, STOPPING=1 on SIGTERM', async () => {
  const daemon = await agent.start();
  const ready = await receiver.waitForLine(/^MSG .*READY=1/, 10_000, 0);
  assert.match(ready[0], new RegExp(`MAINPID=${daemon.pid}`));
  assert.ok(daemon.output.some((l) => /pi-agent: online/.test(l)), 'READY only after the link is up');
  await waitFor(() => receiver.output.filter((l) => /WATCHDOG=1/.test(l)).length >= 2, 5_000, 'two watchdog pings (every second)');
  await daemon.stop('SIGTERM');
  await receiver.waitForLine(/^MSG .*STOPPING=1/, 5_000, 0);
});
