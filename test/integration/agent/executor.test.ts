// Real child processes through setpriv. The machine (and CI) runs as root, so users really change.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLEAN_PATH, execute, setprivArgs, type ExecResult } from '../../../agent/executor.js';
import { resolveUser, type SystemUser } from '../../../agent/users.js';
import { waitFor } from '../../helpers/process.js';

const isRoot = process.getuid?.() === 0;

async function user(name: string): Promise<SystemUser> {
  const r = await resolveUser(name);
  assert.ok(r.ok, `user ${name}`);
  return r.user;
}

function ran(r: ExecResult): Extract<ExecResult, { ok: true }> {
  assert.ok(r.ok, r.ok ? '' : r.message);
  return r;
}

/** Gone, a zombie nobody has reaped yet, or being reaped: either way it no longer runs. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

describe('executor', { skip: !isRoot && 'needs root to switch users' }, () => {
  let dir: string;
  let nobody: SystemUser;
  let root: SystemUser;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pifleet-exec-'));
    chmodSync(dir, 0o777); // nobody writes pid files here
    nobody = await user('nobody');
    root = await user('root');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs as the declared user with its gid and groups only', async () => {
    const r = ran(await execute({ argv: ['/usr/bin/id'], user: nobody, timeoutMs: 5000 }));
    assert.equal(r.stdout, 'uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n');
    assert.equal(r.exitCode, 0);
  });

  it('gives exactly the clean environment', async () => {
    const r = ran(await execute({ argv: ['/usr/bin/env'], user: nobody, timeoutMs: 5000 }));
    assert.deepEqual(r.stdout.trim().split('\n').sort(), [
      'HOME=/nonexistent', 'LANG=C.UTF-8', 'LOGNAME=nobody', `PATH=${CLEAN_PATH}`, 'USER=nobody',
    ]);
  });

  it('starts in the home directory, or / when it does not exist', async () => {
    assert.equal(ran(await execute({ argv: ['/bin/pwd'], user: nobody, timeoutMs: 5000 })).stdout, '/\n');
    assert.equal(ran(await execute({ argv: ['/bin/pwd'], user: root, timeoutMs: 5000 })).stdout, `${root.home}\n`);
  });

  it('sets no_new_privs, its own process group and stdin from /dev/null', async () => {
    const nnp = ran(await execute({ argv: ['/bin/grep', 'NoNewPrivs', '/proc/self/status'], user: nobody, timeoutMs: 5000 }));
    assert.equal(nnp.stdout, 'NoNewPrivs:\t1\n');
    const stat = ran(await execute({ argv: ['/bin/cat', '/proc/self/stat'], user: nobody, timeoutMs: 5000 })).stdout;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // state ppid pgrp …
    assert.equal(stat.split(' ')[0], fields[2], 'the program leads its own process group');
    const stdin = ran(await execute({ argv: ['/bin/cat'], user: nobody, timeoutMs: 5000 }));
    assert.deepEqual([stdin.stdout, stdin.exitCode, stdin.timedOut], ['', 0, false]);
  });

  it('passes arguments as they are: no shell anywhere', async () => {
    const args = ['; touch /tmp/x', '$(id)', '`id`', "'a' \"b\" && c | d > e", '*'];
    const r = ran(await execute({ argv: ['/usr/bin/printf', '[%s]', ...args], user: nobody, timeoutMs: 5000 }));
    assert.equal(r.stdout, args.map((a) => `[${a}]`).join(''));
  });

  it('reports exit code and signal', async () => {
    const r = ran(await execute({ argv: ['/bin/false'], user: nobody, timeoutMs: 5000 }));
    assert.deepEqual([r.exitCode, r.signal, r.timedOut], [1, null, false]);
  });

  it('kills the whole group after the timeout, grandchildren included', async () => {
    const pidfile = join(dir, 'grandchild.pid');
    const r = ran(await execute(
      { argv: ['/bin/sh', '-c', `sleep 300 & echo $! > ${pidfile}; wait`], user: nobody, timeoutMs: 300 },
      { graceMs: 500 },
    ));
    assert.equal(r.timedOut, true);
    assert.equal(r.signal, 'SIGTERM');
    assert.equal(r.exitCode, null);
    assert.ok(r.durationMs >= 300 && r.durationMs < 3000, `took ${r.durationMs} ms`);
    const pid = Number(readFileSync(pidfile, 'utf8'));
    assert.ok(pid > 0);
    // A killed process closes its files (our pipes, which ends the command) a moment before the kernel
    // marks it dead; on a loaded machine that moment is seen. A grandchild the kill missed is a
    // `sleep 300`, still there after two seconds.
    await waitFor(() => !isRunning(pid), 2_000, `grandchild ${pid} to be gone`);
  });

  it('SIGKILLs the group when SIGTERM is ignored, after the grace period', async () => {
    const r = ran(await execute(
      { argv: ['/bin/sh', '-c', 'trap "" TERM; while :; do sleep 0.05; done'], user: nobody, timeoutMs: 200 },
      { graceMs: 300 },
    ));
    assert.equal(r.timedOut, true);
    assert.equal(r.signal, 'SIGKILL');
    assert.ok(r.durationMs >= 500, `took ${r.durationMs} ms`);
  });

  it('caps each stream and flags it, while the program still runs to the end', async () => {
    const r = ran(await execute({ argv: ['/usr/bin/head', '-c', '300000', '/dev/zero'], user: nobody, timeoutMs: 5000 }, { maxOutputBytes: 4096 }));
    assert.deepEqual([r.stdout.length, r.truncated, r.exitCode], [4096, true, 0]);
    const e = ran(await execute({ argv: ['/bin/sh', '-c', 'head -c 10000 /dev/zero >&2; echo ok'], user: nobody, timeoutMs: 5000 }, { maxOutputBytes: 100 }));
    assert.deepEqual([e.stdout, e.stderr.length, e.truncated], ['ok\n', 100, true]);
    const small = ran(await execute({ argv: ['/bin/echo', 'hi'], user: nobody, timeoutMs: 5000 }, { maxOutputBytes: 3 }));
    assert.deepEqual([small.stdout, small.truncated], ['hi\n', false]);
  });

  it('aborting kills the group like a timeout', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const r = ran(await execute({ argv: ['/bin/sleep', '300'], user: nobody, timeoutMs: 60_000 }, { signal: ac.signal, graceMs: 1000 }));
    assert.deepEqual([r.aborted, r.timedOut, r.signal], [true, false, 'SIGTERM']);
  });

  it('a missing program or setpriv is a spawn failure, not a crash', async () => {
    const missing = await execute({ argv: ['/nonexistent/program'], user: nobody, timeoutMs: 5000 });
    assert.deepEqual(missing.ok ? null : missing.message, '/nonexistent/program: no such program');
    const noSetpriv = await execute({ argv: ['/bin/true'], user: nobody, timeoutMs: 5000 }, { setpriv: '/nonexistent/setpriv' });
    assert.deepEqual(noSetpriv.ok ? null : noSetpriv.message, '/nonexistent/setpriv not found (util-linux)');
    assert.equal(existsSync('/nonexistent'), false);
  });

  it('refuses another user when the agent is not root', async () => {
    const r = await execute({ argv: ['/bin/true'], user: nobody, timeoutMs: 5000 }, { daemonUid: 1000 });
    assert.deepEqual(r.ok ? null : r.message, 'cannot run as "nobody": pi-agent is not running as root');
  });
});

describe('setprivArgs', () => {
  const u = { name: 'pi', uid: 1000, gid: 1001, home: '/home/pi' };
  it('as root: switch uid, gid and groups, no_new_privs', () => {
    assert.deepEqual(setprivArgs(u, 0, ['/bin/id', '-u']), ['--reuid=1000', '--regid=1001', '--init-groups', '--no-new-privs', '--', '/bin/id', '-u']);
  });
  it('not root, same user: no_new_privs only', () => {
    assert.deepEqual(setprivArgs(u, 1000, ['/bin/id']), ['--no-new-privs', '--', '/bin/id']);
  });
  it('not root, another user: impossible', () => {
    assert.equal(setprivArgs(u, 1002, ['/bin/id']), null);
  });
});
