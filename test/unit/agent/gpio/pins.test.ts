// What a pin may become (agent/gpio/pins.ts): sets checked against the declared modes and ranges,
// start and safe levels, and the driver's PWM range.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkSet, effectivePin, initialTarget, safeTarget } from '../../../../agent/gpio/pins.js';
import { type LoadedPin, loadedPin } from '../../../../agent/modules/schema.js';
import type { GpioSet } from '../../../../shared/schemas.js';

const pin = (bcm: number, def: Parameters<typeof loadedPin>[2]): LoadedPin => loadedPin('gpio', bcm, def);
const RELAY = pin(17, { name: 'Relay', modes: ['out'], initial: 0, safe: 0, failSafe: true });
const FAN = pin(18, { name: 'Fan', modes: ['pwm', 'out'], pwm: { freqHz: [25, 1000] }, safe: 0, holdSec: 60 });
const DIMMER = pin(12, { modes: ['pwm'], pwm: { freqHz: [100, 500] }, initial: 1 });
const BUTTON = pin(27, { name: 'Button', modes: ['in'], pull: 'up' });
const DOOR = pin(22, { modes: ['in', 'out'] });

const rows: Array<[string, LoadedPin, Omit<GpioSet, 'v'>, string]> = [
  ['an output set', RELAY, { value: 1 }, 'out 1'],
  ['the same, mode given', RELAY, { mode: 'out', value: 0 }, 'out 0'],
  ['PWM on an output-only pin', RELAY, { pwm: { duty: 0.5, freqHz: 100 } }, 'mode_not_allowed: pin 17 (Relay) allows out; not pwm'],
  ['an input cannot be set', BUTTON, { value: 1 }, 'mode_not_allowed: pin 27 (Button) allows in; not out'],
  ['PWM within range', FAN, { pwm: { duty: 0.25, freqHz: 25 } }, 'pwm 0.25 25'],
  ['PWM at the top of the range', FAN, { mode: 'pwm', pwm: { duty: 1, freqHz: 1000 } }, 'pwm 1 1000'],
  ['a frequency above the range', FAN, { pwm: { duty: 0.5, freqHz: 1001 } }, 'out_of_range: pin 18 (Fan) takes 25–1000 Hz; not 1001'],
  ['a frequency below the range', FAN, { pwm: { duty: 0.5, freqHz: 24.9 } }, 'out_of_range: pin 18 (Fan) takes 25–1000 Hz; not 24.9'],
  ['pwm mode without pwm', FAN, { mode: 'pwm' }, 'invalid_request: mode "pwm" needs pwm: {duty, freqHz}'],
  ['out mode without value', FAN, { mode: 'out' }, 'invalid_request: mode "out" needs value 0 or 1'],
  ['value and pwm at once', FAN, { value: 1, pwm: { duty: 0.5, freqHz: 100 } }, 'invalid_request: mode "pwm" takes no value: the duty says it'],
  ['nothing to set', FAN, {}, 'invalid_request: a set needs mode, value or pwm'],
  ['a value on a PWM-only pin', DIMMER, { value: 1 }, 'mode_not_allowed: pin 12 (GPIO12) allows pwm; not out'],
  ['back to input where allowed', DOOR, { mode: 'in' }, 'in'],
  ['an input takes no value', DOOR, { mode: 'in', value: 1 }, 'invalid_request: mode "in" takes neither value nor pwm'],
];

const show = (t: ReturnType<typeof initialTarget>) => (t.mode === 'out' ? `out ${t.value}` : t.mode === 'pwm' ? `pwm ${t.duty} ${t.freqHz}` : 'in');

describe('checkSet', () => {
  for (const [name, p, set, want] of rows) {
    test(name, () => {
      const r = checkSet(p, { v: 1, ...set });
      assert.equal(r.ok ? show(r.target) : `${r.code}: ${r.message}`, want);
    });
  }
});

describe('initial and safe levels', () => {
  const cases: Array<[string, LoadedPin, string, string]> = [
    ['relay', RELAY, 'out 0', 'out 0'],
    ['fan: initial 0 by default, as an output', FAN, 'out 0', 'out 0'],
    ['PWM-only: duty 0 or 1 at the lowest frequency', DIMMER, 'pwm 1 100', 'pwm 1 100'],
    ['button', BUTTON, 'in', 'in'],
    ['in and out without initial: an input, also when safe', DOOR, 'in', 'in'],
    ['in and out with safe 1', pin(23, { modes: ['in', 'out'], safe: 1 }), 'in', 'out 1'],
  ];
  for (const [name, p, initial, safe] of cases) {
    test(name, () => {
      assert.equal(show(initialTarget(p)), initial);
      assert.equal(show(safeTarget(p)), safe);
    });
  }

  test('a PWM-only pin goes safe at the frequency it runs at', () => {
    assert.deepEqual(safeTarget(pin(13, { modes: ['pwm'], pwm: { freqHz: [10, 500] }, safe: 0 }), { mode: 'pwm', duty: 0.7, freqHz: 440 }), { mode: 'pwm', duty: 0, freqHz: 440 });
  });
});

describe('effectivePin: the driver narrows PWM', () => {
  test('software PWM caps the example fan at 1 kHz', () => {
    const fan = pin(18, { modes: ['pwm', 'out'], pwm: { freqHz: [25, 20000] } });
    const e = effectivePin(fan, { minHz: 0.1, maxHz: 1000 });
    assert.deepEqual(e.pin.pwm, { minHz: 25, maxHz: 1000 });
    assert.equal(e.note, 'PWM narrowed to 25–1000 Hz, what the driver makes');
  });
  test('no overlap: PWM is not offered', () => {
    const e = effectivePin(pin(18, { modes: ['pwm', 'out'], pwm: { freqHz: [20000, 25000] } }), { minHz: 0.1, maxHz: 1000 });
    assert.deepEqual(e.pin.modes, ['out']);
    assert.equal(e.pin.pwm, undefined);
  });
  test('within range: unchanged', () => {
    assert.equal(effectivePin(FAN, { minHz: 0.1, maxHz: 1000 }).pin, FAN);
  });
});
