import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NO_HIGH_WATER_MARK, RECENT_DELIVERIES, RecentDeliveries } from '../../../../broker/mqtt/deliveries.js';

describe('RecentDeliveries', () => {
  it('lets a message through once, in any order, and forgets the oldest past its bound', () => {
    const d = new RecentDeliveries();
    assert.equal(d.fresh('b', 5), true);
    assert.equal(d.fresh('b', 3), true, 'an older message that comes later is not a duplicate');
    assert.equal(d.fresh('b', 5), false);
    assert.equal(d.fresh('other', 5), true, 'another broker\'s counter is another message');
    for (let i = 100; i < 100 + RECENT_DELIVERIES; i++) d.fresh('b', i);
    assert.equal(d.fresh('b', 5), true, 'forgotten after the bound');
  });

  it("aedes's high-water mark reads empty and forgets what is written", () => {
    const dup = NO_HIGH_WATER_MARK;
    dup.b = 7;
    assert.equal(dup.b, undefined);
    // what aedes's dedupe computes: (duplicates[id] || 0) < counter
    assert.equal((dup.b || 0) < 1, true);
  });
});
