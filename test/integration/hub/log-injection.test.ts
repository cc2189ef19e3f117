// Log injection (issue 7): a client with no certificate sends a CONNECT whose client id holds a
// terminal escape, a NUL, a BEL and a newline; the hub logs its refusal before anyone is
// authenticated, and the log must show those bytes as escapes, never raw.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { TestHub } from '../../helpers/hub.js';
import { RawMqtt } from '../../helpers/raw-mqtt.js';

let hub: TestHub;
before(async () => { hub = await TestHub.start(); });
after(async () => { await hub.stop(); });

describe('a hostile client id', () => {
  for (const transport of ['wss', 'mqtts'] as const) {
    it(`reaches the log escaped (${transport})`, async () => {
      const tag = `evil-${transport}`;
      const from = hub.daemon.output.length;
      const raw = await RawMqtt.open(hub, null, transport);
      const ack = await raw.connect({ clientId: `${tag}\u001b[31m\u0000\u0007\nforged line` });
      assert.equal(ack.returnCode, 5);
      raw.close();
      const m = await hub.daemon.waitForLine(new RegExp(`connection refused .*client=("${tag}[^ ]*)`), 3_000, from);
      assert.equal(m[1], `"${tag}\\x1b[31m\\x00\\x07\\nforged`);
      // every line the hub wrote, this one included: no raw control byte (Daemon splits on raw newlines,
      // so a raw one would have made "forged line…" a line of its own)
      for (const line of hub.daemon.output) assert.doesNotMatch(line, /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
      assert.ok(!hub.daemon.output.some((l) => l.startsWith('forged line')), 'no forged line');
    });
  }
});
