// Log lines (shared/log.ts), table-driven: whatever a message or a field holds, one line comes out,
// with every control character as a visible escape and every value capped (issue 7, log injection).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Fields, formatLine } from '../../../shared/log.js';

/** The line under journald (no timestamp), without its priority prefix and newline. */
function body(msg: string, fields?: Fields): string {
  const line = formatLine('info', 'c', msg, fields, true);
  assert.match(line, /^<6>c: /);
  assert.ok(line.endsWith('\n'));
  return line.slice('<6>c: '.length, -1);
}

/** No raw C0, DEL, C1 or U+2028/U+2029 anywhere in a line but its final newline. */
const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

describe('formatLine: field values', () => {
  const rows: Array<[string, Fields[string], string]> = [
    ['plain', 'pi-1', 'pi-1'],
    ['number', 42, '42'],
    ['boolean', false, 'false'],
    ['null', null, 'null'],
    ['empty', '', '""'],
    ['space', 'a b', '"a b"'],
    ['quote', 'a"b', '"a\\"b"'],
    ['equals', 'a=b', '"a=b"'],
    ['backslash', 'a\\x1b', '"a\\\\x1b"'], // a literal backslash cannot pass for an escape
    ['ESC', '\u001b[31mred', '"\\x1b[31mred"'],
    ['NUL', 'a\u0000b', '"a\\x00b"'],
    ['BEL', '\u0007', '"\\x07"'],
    ['newline', 'a\nb', '"a\\nb"'],
    ['CR LF', 'a\r\nfake=line', '"a\\r\\nfake=line"'],
    ['tab', 'a\tb', '"a\\tb"'],
    ['DEL', 'a\u007fb', '"a\\x7fb"'],
    ['C1 CSI', 'a\u009b31mb', '"a\\x9b31mb"'],
    ['C1 NEL', 'a\u0085b', '"a\\x85b"'],
    ['U+2028', 'a\u2028b', '"a\\u2028b"'],
    ['U+2029', 'a\u2029b', '"a\\u2029b"'],
    ['not a control', 'é✓😀', 'é✓😀'],
    ['200 characters', 'a'.repeat(200), 'a'.repeat(200)],
    ['201 characters', 'a'.repeat(201), `${'a'.repeat(200)}…(+1)`],
    ['long', 'a'.repeat(1434), `${'a'.repeat(200)}…(+1234)`],
    ['long, quoted', ' '.repeat(300), `"${' '.repeat(200)}…(+100)"`],
    // the cap counts what is written: 50 NULs are 200 characters escaped, never a half escape
    ['long escapes', '\u0000'.repeat(60), `"${'\\x00'.repeat(50)}…(+10)"`],
    ['cut before a pair', `${'a'.repeat(199)}😀b`, `${'a'.repeat(199)}…(+3)`],
  ];
  for (const [name, value, expected] of rows) {
    it(name, () => {
      const b = body('m', { k: value, next: 'x' });
      assert.equal(b, `m k=${expected} next=x`);
      assert.doesNotMatch(b, RAW_CONTROL);
    });
  }

  it('leaves undefined fields out', () => {
    assert.equal(body('m', { a: undefined, b: 1 }), 'm b=1');
  });
});

describe('formatLine: the message', () => {
  const rows: Array<[string, string, string]> = [
    ['plain', 'connection refused', 'connection refused'],
    ['newline', 'one\ntwo', 'one\\ntwo'],
    ['ESC NUL BEL', 'a\u001b[2Jb\u0000c\u0007', 'a\\x1b[2Jb\\x00c\\x07'],
    ['C1 and separators', '\u0090\u2028\u2029', '\\x90\\u2028\\u2029'],
    ['quotes stay', 'say "hi"', 'say "hi"'],
    ['500 characters', 'm'.repeat(500), 'm'.repeat(500)],
    ['long', 'm'.repeat(2000), `${'m'.repeat(500)}…(+1500)`],
  ];
  for (const [name, msg, expected] of rows) {
    it(name, () => {
      const b = body(msg);
      assert.equal(b, expected);
      assert.doesNotMatch(b, RAW_CONTROL);
    });
  }
});

describe('formatLine: the prefix', () => {
  it('starts with a syslog priority under journald, by level', () => {
    for (const [level, p] of [['error', 3], ['warn', 4], ['info', 6], ['debug', 7]] as const) {
      assert.equal(formatLine(level, 'hub', 'x\u001b', { a: 1 }, true), `<${p}>hub: x\\x1b a=1\n`);
    }
  });

  it('starts with a timestamp and the level elsewhere', () => {
    assert.match(formatLine('warn', 'hub', 'x\ny', undefined, false), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z warn  hub: x\\ny\n$/);
  });
});
