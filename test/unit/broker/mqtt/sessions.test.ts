// SessionRegistry: a connection is closed when its credential expires, not before — also when the expiry
// is further away than one timer can wait (2^31 - 1 ms, about 24.8 days).
import assert from 'node:assert/strict';
import { afterEach, describe, it, mock } from 'node:test';
import { SessionRegistry } from '../../../../broker/mqtt/sessions.js';
import type { CertStore, SessionStore } from '../../../../broker/store/store.js';
import { createLogger } from '../../../../shared/log.js';

const DAY = 86_400_000;
const store = {} as { certs: CertStore; sessions: SessionStore }; // add and remove never read it
const log = createLogger('test', { write: () => true });

describe('SessionRegistry expiry', () => {
  afterEach(() => mock.timers.reset());

  it('closes a connection at its credential\'s expiry, however far away, and not before', () => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const registry = new SessionRegistry(store, log);
    let closed = 0;
    registry.add('cert:ab', 90 * DAY, { close: () => { closed++; } });
    mock.timers.tick(25 * DAY); // past one timer's longest wait
    assert.equal(closed, 0, 'closed 65 days before its certificate expires');
    mock.timers.tick(64 * DAY);
    assert.equal(closed, 0);
    mock.timers.tick(DAY);
    assert.equal(closed, 1);
  });

  it('forgets the timer of a connection that ended', () => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const registry = new SessionRegistry(store, log);
    let closed = 0;
    const connection = { close: () => { closed++; } };
    registry.add('cert:cd', 30 * DAY, connection);
    mock.timers.tick(26 * DAY);
    registry.remove('cert:cd', connection);
    mock.timers.tick(10 * DAY);
    assert.equal(closed, 0);
  });
});
