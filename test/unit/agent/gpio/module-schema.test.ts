// gpio.json (kind "gpio"): the example, the defaults, and each refusal with its JSON path.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parseModuleText } from '../../../../agent/modules/schema.js';

const gpio = (pins: Record<string, unknown>, top: Record<string, unknown> = {}) => JSON.stringify({ id: 'gpio', kind: 'gpio', title: 'Pins', pins, ...top });
const problems = (text: string) => { const r = parseModuleText(text); return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`); };

export const EXAMPLE = {
  $schema: './module.schema.json',
  id: 'gpio', kind: 'gpio', title: 'Pins',
  pins: {
    17: { name: 'Relay', modes: ['out'], initial: 0, safe: 0, failSafe: true },
    18: { name: 'Fan', modes: ['pwm', 'out'], pwm: { freqHz: [25, 20000] }, safe: 0, holdSec: 60 },
    27: { name: 'Button', modes: ['in'], pull: 'up', edge: 'both', debounceMs: 20 },
  },
};

describe('gpio module files', () => {
  test("the issue's example is valid", () => {
    const r = parseModuleText(JSON.stringify(EXAMPLE));
    assert.deepEqual(r.ok ? [] : r.problems, []);
    assert.ok(r.ok && r.module.kind === 'gpio');
    assert.deepEqual(Object.keys(r.module.pins), ['17', '18', '27']);
  });

  test('the shipped gpio.json is valid and lists no pins', () => {
    const r = parseModuleText(readFileSync(new URL('../../../../../modules/gpio.json', import.meta.url), 'utf8'));
    assert.ok(r.ok && r.module.kind === 'gpio');
    assert.deepEqual(r.module.pins, {});
  });

  const refused: Array<[string, string, string[]]> = [
    ['an unknown key', gpio({ 17: { modes: ['out'], inital: 1 } }), ['pins.17: Unrecognized key: "inital"']],
    ['an unknown key at the top', gpio({}, { commands: {} }), ['(root): Unrecognized key: "commands"']],
    ['BCM 28', gpio({ 28: { modes: ['out'] } }), ['pins.28: invalid name: a pin is its BCM number, 0–27, written without leading zeros']],
    ['a leading zero', gpio({ '07': { modes: ['out'] } }), ['pins.07: invalid name: a pin is its BCM number, 0–27, written without leading zeros']],
    ['a reserved pin', gpio({ 0: { modes: ['in'] } }), ['pins.0: BCM 0 is reserved for a HAT\'s ID EEPROM (ID_SD/ID_SC): add "allowReserved": true to use it anyway']],
    ['pwm without a range', gpio({ 18: { modes: ['pwm'] } }), ['pins.18.pwm: a pin with mode "pwm" needs "pwm": {"freqHz": [lowest, highest]}']],
    ['a range upside down', gpio({ 18: { modes: ['pwm'], pwm: { freqHz: [500, 25] } } }), ['pins.18.pwm.freqHz: freqHz is [lowest, highest]: the first may not exceed the second']],
    ['a safe level on an input', gpio({ 27: { modes: ['in'], safe: 0 } }), ['pins.27.safe: "safe" is for an output: add "out" or "pwm" to modes']],
    ['a pull on an output', gpio({ 17: { modes: ['out'], pull: 'up' } }), ['pins.17.pull: "pull" is for an input: add "in" to modes']],
    ['a mode twice', gpio({ 17: { modes: ['out', 'out'] } }), ['pins.17.modes: a mode may be listed once']],
    ['an unknown mode', gpio({ 17: { modes: ['analog'] } }), ['pins.17.modes.0: Invalid option: expected one of "in"|"out"|"pwm"']],
  ];
  for (const [name, text, want] of refused) test(`refused: ${name}`, () => assert.deepEqual(problems(text), want));

  test('a reserved pin with allowReserved', () => {
    assert.deepEqual(problems(gpio({ 1: { modes: ['in'], allowReserved: true } })), []);
  });
});
