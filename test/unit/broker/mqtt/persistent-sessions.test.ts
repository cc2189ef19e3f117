import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PersistentSessions } from '../../../../broker/mqtt/persistent-sessions.js';

const alice = { kind: 'user', userId: '1' } as const;
const bob = { kind: 'user', userId: '2' } as const;
const pi = { kind: 'device', userId: '1', serial: 'pi-1' } as const;

describe('PersistentSessions', () => {
  it('a user holds at most maxPerUser persistent sessions; resuming one, other users and devices are not refused', () => {
    const s = new PersistentSessions({ maxPerUser: 2, expiryMs: 1000 });
    s.connected('u/1/a', false, 0);
    s.connected('u/1/b', false, 0);
    assert.match(s.refusal(alice, 'u/1/c') ?? '', /too many persistent sessions: this user holds 2 \(at most 2\)/);
    assert.equal(s.refusal(alice, 'u/1/a'), null, 'its own session may be resumed');
    assert.equal(s.refusal(bob, 'u/2/a'), null);
    s.connected('d/1/pi-1', false, 0);
    assert.equal(s.refusal(pi, 'd/1/pi-1'), null);
    assert.equal(s.heldBy('1'), 2, "a device's session does not count");
  });

  it('a clean connect ends the session its id had, and frees its place', () => {
    const s = new PersistentSessions({ maxPerUser: 1, expiryMs: 1000 });
    s.connected('u/1/a', false, 0);
    assert.notEqual(s.refusal(alice, 'u/1/b'), null);
    s.connected('u/1/a', true, 0);
    assert.equal(s.refusal(alice, 'u/1/b'), null);
  });

  it('expires sessions nobody resumed within expiryMs, never a connected one', () => {
    const s = new PersistentSessions({ maxPerUser: 5, expiryMs: 1000 });
    s.connected('u/1/a', false, 0);
    s.connected('u/1/b', false, 0);
    s.connected('d/1/pi-1', false, 0);
    s.disconnected('u/1/a', 100);
    s.disconnected('d/1/pi-1', 500);
    assert.deepEqual(s.expired(1099), []);
    assert.deepEqual(s.expired(1100), ['u/1/a']);
    assert.deepEqual(s.expired(1500), ['d/1/pi-1']);
    assert.deepEqual(s.expired(10_000), [], 'u/1/b is still connected');
    assert.equal(s.heldBy('1'), 1);
    // a takeover: the new connection registers before the old one is gone
    s.connected('u/1/b', false, 10_000);
    s.disconnected('u/1/b', 10_001);
    assert.deepEqual(s.expired(20_000), [], 'one connection is still up');
  });

  it('after a restart, starts from the sessions the store kept: they count towards the quota and expire from when they were last used', () => {
    const s = new PersistentSessions({ maxPerUser: 2, expiryMs: 1000 });
    s.restore([
      { clientId: 'u/1/a', lastSeen: 100, connected: false }, // away since 100
      { clientId: 'u/1/b', lastSeen: 50, connected: true }, // held when the hub died: used until the restart
      { clientId: 'd/1/pi-1', lastSeen: null, connected: false }, // known only by its queue
      { clientId: 'aedes_123', lastSeen: 1, connected: false }, // not one of ours: ignored
    ], 5000);
    assert.equal(s.heldBy('1'), 2);
    assert.match(s.refusal(alice, 'u/1/c') ?? '', /this user holds 2/);
    assert.equal(s.refusal(alice, 'u/1/a'), null, 'a restored session may be resumed');
    assert.deepEqual(s.expired(5000), ['u/1/a'], 'away longer than the expiry');
    assert.deepEqual(s.expired(5999), []);
    assert.deepEqual(s.expired(6000).sort(), ['d/1/pi-1', 'u/1/b']);
    assert.equal(s.heldBy('1'), 0);
  });
});
