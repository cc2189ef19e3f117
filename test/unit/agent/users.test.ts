import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parsePasswdLine } from '../../../agent/users.js';

const ROWS: [string, ReturnType<typeof parsePasswdLine>][] = [
  ['pi:x:1000:1000:,,,:/home/pi:/bin/bash\n', { name: 'pi', uid: 1000, gid: 1000, home: '/home/pi' }],
  ['nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin', { name: 'nobody', uid: 65534, gid: 65534, home: '/nonexistent' }],
  ['pi:x:abc:1000::/home/pi:/bin/sh', null],
  ['pi:x:-1:1000::/home/pi:/bin/sh', null],
  ['pi:x:1000:1000', null],
  ['', null],
];
for (const [line, user] of ROWS) it(`parsePasswdLine(${JSON.stringify(line)})`, () => assert.deepEqual(parsePasswdLine(line), user));
