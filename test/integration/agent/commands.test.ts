// CommandService end to end: real module files, real registry, real child processes (as root, so
// "user": "nobody" really switches users).
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { CommandService, type CommandServiceOptions } from '../../../agent/commands.js';
import { Doctor } from '../../../agent/doctor/doctor.js';
import { ModuleRegistry } from '../../../agent/modules/registry.js';
import { createLogger, type Logger } from '../../../shared/log.js';
import { CmdResultSchema, DoctorReportSchema, type CmdResult, type DoctorReport } from '../../../shared/schemas.js';

const isRoot = process.getuid?.() === 0;

function captureLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger('test', { write: (l: string) => lines.push(l) }), lines };
}

let seq = 0;
const req = (module: string, command: string, params?: Record<string, string | number>, id = `r${++seq}`) =>
  Buffer.from(JSON.stringify({ v: 1, id, module, command, ...(params ? { params } : {}), by: 'alice' }));

function result(r: CmdResult | null): CmdResult {
  assert.ok(r, 'a result');
  return CmdResultSchema.parse(r);
}

describe('CommandService', { skip: !isRoot && 'needs root to switch users' }, () => {
  let dir: string;
  let modulesDir: string;
  let stateDir: string;
  let out: string; // writable by nobody: markers and mktemp files
  let registry: ModuleRegistry;
  let services: CommandService[];
  let log: ReturnType<typeof captureLogger>;

  const writeModule = (name: string, body: unknown) => writeFileSync(join(modulesDir, name), typeof body === 'string' ? body : JSON.stringify(body, null, 2));

  const baseModule = () => ({
    $schema: './module.schema.json',
    id: 'test',
    title: 'Test',
    commands: {
      id: { title: 'Who', run: ['/usr/bin/id'], user: 'nobody' },
      env: { title: 'Env', run: ['/usr/bin/env'], user: 'nobody' },
      echo: { title: 'Echo', run: ['/bin/echo', '{msg}'], user: 'nobody', params: { msg: { pattern: '^.*$' } } },
      touch: { title: 'Touch', run: ['/usr/bin/touch', join(out, 'disabled-ran')], user: 'nobody', enabled: false },
      mark: { title: 'Mark', run: ['/usr/bin/touch', '{name}'], user: 'nobody', params: { name: { enum: [join(out, 'marker')] } } },
      once: { title: 'Once', run: ['/usr/bin/mktemp', '-p', join(out, 'runs')], user: 'nobody' },
      sleep: { title: 'Sleep', run: ['/bin/sleep', '{sec}'], user: 'nobody', params: { sec: { type: 'integer', min: 0, max: 600 } } },
      slow: { title: 'Slow', run: ['/bin/sleep', '300'], user: 'nobody', timeoutSec: 0.3 },
    },
  });

  async function service(extra: Partial<CommandServiceOptions> = {}): Promise<CommandService> {
    const s = new CommandService({ registry, stateDir, logger: log.logger, maxConcurrent: 2, maxQueued: 8, exec: { graceMs: 300 }, ...extra });
    s.start();
    services.push(s);
    return s;
  }

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pifleet-cmd-'));
    modulesDir = join(dir, 'modules');
    stateDir = join(dir, 'state');
    out = join(dir, 'out');
    mkdirSync(modulesDir);
    mkdirSync(join(out, 'runs'), { recursive: true });
    chmodSync(dir, 0o755);
    chmodSync(out, 0o777);
    chmodSync(join(out, 'runs'), 0o777);
    writeModule('test.json', baseModule());
    log = captureLogger();
    registry = new ModuleRegistry({ modulesDir, defaultUser: 'nobody', logger: log.logger, debounceMs: 50 });
    await registry.start();
    services = [];
  });
  afterEach(async () => {
    for (const s of services) await s.stop();
    registry.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs a declared command as its declared user', async () => {
    const s = await service();
    const r = result(await s.submit(req('test', 'id')));
    assert.deepEqual([r.ok, r.exitCode, r.stdout], [true, 0, 'uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n']);
  });

  it('gives the command exactly the clean environment', async () => {
    const s = await service();
    const r = result(await s.submit(req('test', 'env')));
    assert.deepEqual(r.stdout.trim().split('\n').sort(), [
      'HOME=/nonexistent', 'LANG=C.UTF-8', 'LOGNAME=nobody', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'USER=nobody',
    ]);
  });

  for (const msg of [`; touch ${'MARK'}`, '$(touch MARK)', '`touch MARK`', 'a && touch MARK', "' ; touch MARK ; '"]) {
    it(`an injection attempt is one inert argument: ${msg}`, async () => {
      const s = await service();
      const text = msg.replaceAll('MARK', join(out, 'injected'));
      const r = result(await s.submit(req('test', 'echo', { msg: text })));
      assert.deepEqual([r.ok, r.stdout], [true, `${text}\n`]);
      assert.equal(existsSync(join(out, 'injected')), false);
    });
  }

  it('refuses, without running, a newline or an option in a parameter', async () => {
    const s = await service();
    const nl = result(await s.submit(req('test', 'echo', { msg: 'a\nb' })));
    assert.deepEqual(nl.error, { code: 'invalid_params', message: 'parameter "msg": control characters (NUL, newline, …) are not allowed' });
    const opt = result(await s.submit(req('test', 'echo', { msg: '--help' })));
    assert.deepEqual(opt.error, { code: 'invalid_params', message: 'parameter "msg": may not start with "-"' });
    const bad = result(await s.submit(req('test', 'mark', { name: '/etc/passwd' })));
    assert.equal(bad.error?.code, 'invalid_params');
    assert.deepEqual([nl.stdout, opt.stdout, bad.exitCode], ['', '', null]);
  });

  it('refuses what is not declared or disabled and never runs it', async () => {
    const s = await service();
    const disabled = result(await s.submit(req('test', 'touch')));
    assert.deepEqual([disabled.ok, disabled.error?.code], [false, 'unknown_command']);
    const undeclared = result(await s.submit(req('test', 'rm')));
    assert.deepEqual([undeclared.ok, undeclared.error?.code], [false, 'unknown_command']);
    const noModule = result(await s.submit(req('nope', 'id')));
    assert.deepEqual([noModule.ok, noModule.error?.code], [false, 'unknown_module']);
    assert.equal(existsSync(join(out, 'disabled-ran')), false);
    // …while the same kind of command, declared and enabled, does run:
    assert.equal(result(await s.submit(req('test', 'mark', { name: join(out, 'marker') }))).ok, true);
    assert.equal(existsSync(join(out, 'marker')), true);
  });

  it('a disabled command is not in the manifest', () => {
    const m = registry.manifestModules().find((x) => x.id === 'test');
    assert.ok(m);
    assert.deepEqual(m.commands.map((c) => c.name), ['id', 'env', 'echo', 'mark', 'once', 'sleep', 'slow']);
    assert.deepEqual(m.commands.find((c) => c.name === 'echo'), { name: 'echo', title: 'Echo', user: 'nobody', confirm: false, timeoutSec: 30, params: { msg: { pattern: '^.*$' } }, run: ['/bin/echo', '{msg}'] });
  });

  it('the manifest names the module file and its SHA-256; a request for another version is refused and not run', async () => {
    const s = await service();
    const m = registry.manifestModules().find((x) => x.id === 'test')!;
    const sha = createHash('sha256').update(readFileSync(join(modulesDir, 'test.json'))).digest('hex');
    assert.deepEqual([m.file, m.sha256], ['test.json', sha]);
    const marker = join(out, 'marker');
    const withSha = (moduleSha256: string) => Buffer.from(JSON.stringify({ v: 1, id: `r${++seq}`, module: 'test', command: 'mark', params: { name: marker }, moduleSha256 }));
    // the file changes after the page showed its preview: the old version is refused
    // (the watcher and its debounce timer do not keep the process alive; the timeout does)
    const changed = new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no change event within 5 s')), 5000);
      registry.once('change', () => { clearTimeout(t); resolve(); });
    });
    const mod = baseModule();
    Object.assign(mod.commands.id, { title: 'Who am I' });
    writeModule('test.json', mod);
    await changed;
    const stale = result(await s.submit(withSha(sha)));
    assert.deepEqual([stale.ok, stale.error?.code, stale.exitCode], [false, 'module_changed', null]);
    assert.equal(existsSync(marker), false, 'not run');
    const now = registry.manifestModules().find((x) => x.id === 'test')!.sha256!;
    assert.notEqual(now, sha);
    assert.equal(result(await s.submit(withSha(now))).ok, true);
    assert.equal(existsSync(marker), true, 'the version in force runs');
  });

  it('disabling a command in the file refuses it and drops it from the manifest within a second', async () => {
    const s = await service();
    assert.equal(result(await s.submit(req('test', 'id'))).ok, true);
    const changed = new Promise<number>((resolve) => { const t0 = Date.now(); registry.once('change', () => resolve(Date.now() - t0)); });
    const mod = baseModule();
    Object.assign(mod.commands.id, { enabled: false });
    writeModule('test.json', mod);
    const ms = await Promise.race([changed, new Promise<number>((_, reject) => setTimeout(() => reject(new Error('no change event within 1 s')), 1000))]);
    assert.ok(ms < 1000);
    assert.equal(registry.manifestModules()[0]!.commands.some((c) => c.name === 'id'), false);
    const r = result(await s.submit(req('test', 'id')));
    assert.deepEqual([r.ok, r.error?.code, r.stdout], [false, 'unknown_command', '']);
  });

  it('a broken file keeps the last good module and reports file, path and reason', async () => {
    const s = await service();
    const broken = baseModule() as Record<string, unknown> & ReturnType<typeof baseModule>;
    (broken.commands.id as Record<string, unknown>).run = ['usr/bin/id'];
    writeModule('test.json', broken);
    await registry.reload();
    const file = join(modulesDir, 'test.json');
    assert.deepEqual(registry.problems(), [{ file, path: 'commands.id.run.0', message: 'run[0] must be the absolute path of the program (run is an argv array, never a shell string)' }]);
    const line = log.lines.find((l) => l.includes('module file rejected'));
    assert.ok(line, 'a log line');
    assert.match(line, new RegExp(`file=${file} path=commands.id.run.0 reason="run\\[0\\] must be the absolute path`));
    assert.ok(log.lines.some((l) => l.includes('keeping the last good version of the module') && l.includes('module=test')));
    assert.equal(result(await s.submit(req('test', 'id'))).ok, true, 'the last good version still runs');
    // Not JSON at all: the same.
    writeModule('test.json', '{ "id": "test", ');
    await registry.reload();
    assert.equal(registry.problems()[0]?.path, '(root)');
    assert.match(registry.problems()[0]!.message, /^not valid JSON: /);
    assert.equal(result(await s.submit(req('test', 'id'))).ok, true);
  });

  it('a removed file removes its module; a new file adds one', async () => {
    const s = await service();
    writeModule('more.json', { id: 'more', title: 'More', commands: { hi: { title: 'Hi', run: ['/bin/echo', 'hi'] } } });
    await registry.reload();
    assert.deepEqual(registry.manifestModules().map((m) => m.id), ['more', 'test']);
    assert.equal(result(await s.submit(req('more', 'hi'))).stdout, 'hi\n', 'runs as the default user');
    rmSync(join(modulesDir, 'test.json'));
    await registry.reload();
    assert.deepEqual(registry.manifestModules().map((m) => m.id), ['more']);
    assert.equal(result(await s.submit(req('test', 'id'))).error?.code, 'unknown_module');
  });

  it('a user that does not exist, or a second module with the same id, is a load error', async () => {
    writeModule('ghost.json', { id: 'ghost', title: 'G', commands: { x: { title: 'X', run: ['/bin/true'], user: 'no-such-user-here' } } });
    writeModule('twin.json', { id: 'test', title: 'Twin', commands: {} });
    await registry.reload();
    assert.deepEqual(registry.problems(), [
      { file: join(modulesDir, 'ghost.json'), path: 'commands.x.user', message: 'user "no-such-user-here" does not exist on this system' },
      { file: join(modulesDir, 'twin.json'), path: 'id', message: 'module id "test" is already used by test.json' },
    ]);
    assert.deepEqual(registry.manifestModules().map((m) => m.id), ['test']);
  });

  // ---- each id used once (issue 7: a duplicate id used to get no answer at all) ----------------------

  const runs = () => readdirSync(join(out, 'runs')).length;
  const seenFile = () => JSON.parse(readFileSync(join(stateDir, 'seen-ids.json'), 'utf8')) as { v: number; ids: string[]; fingerprints: (string | null)[] };
  const warned = (text: string, id: string) => log.lines.some((l) => l.includes(text) && l.includes(`id=${id}`));

  it('a redelivered request gets its result again and is not run again', async () => {
    const s = await service();
    const payload = req('test', 'once', undefined, 'same-id');
    const first = result(await s.submit(payload));
    assert.equal(first.ok, true);
    const again = result(await s.submit(payload));
    assert.deepEqual(again, first, 'the same result: mktemp\'s random file name and the duration included');
    // Key order and spacing do not make another request.
    const reordered = Buffer.from(`{ "by": "alice", "command": "once", "module": "test", "id": "same-id", "v": 1, "params": {} }`);
    assert.deepEqual(result(await s.submit(reordered)), first);
    assert.equal(runs(), 1, 'mktemp ran exactly once');
    assert.ok(warned('answered again with its result', 'same-id'));
  });

  it('a redelivery while the request still runs gets no answer now, and the one result when it finishes', async () => {
    const s = await service();
    const payload = req('test', 'sleep', { sec: 1 }, 'slow-id');
    let settled = false;
    const first = s.submit(payload).then((r) => { settled = true; return r; });
    assert.equal(await s.submit(payload), null);
    assert.equal(settled, false, 'answered while the first still ran');
    assert.ok(warned('still queued or running', 'slow-id'));
    const r = result(await first);
    assert.deepEqual([r.ok, r.exitCode], [true, 0]);
    assert.deepEqual(result(await s.submit(payload)), r, 'once finished, a redelivery gets that result');
  });

  it('an id reused for another request is refused duplicate_id and not run; the original keeps its result', async () => {
    const s = await service();
    const original = req('test', 'once', undefined, 'reused');
    const first = result(await s.submit(original));
    const message = 'id reused was already used for another request; send a fresh id';
    const other = result(await s.submit(req('test', 'mark', { name: join(out, 'marker') }, 'reused')));
    assert.deepEqual([other.ok, other.exitCode, other.error], [false, null, { code: 'duplicate_id', message }]);
    assert.equal(existsSync(join(out, 'marker')), false, 'the other request did not run');
    // Same command, other params or another user: another request too.
    const otherParams = Buffer.from(JSON.stringify({ v: 1, id: 'reused', module: 'test', command: 'once', params: { x: 1 }, by: 'alice' }));
    assert.equal(result(await s.submit(otherParams)).error?.code, 'duplicate_id');
    const otherUser = Buffer.from(JSON.stringify({ v: 1, id: 'reused', module: 'test', command: 'once', by: 'mallory' }));
    assert.equal(result(await s.submit(otherUser)).error?.code, 'duplicate_id');
    assert.deepEqual(result(await s.submit(original)), first, 'the refusals did not replace the original result');
    assert.equal(runs(), 1);
    assert.ok(log.lines.some((l) => l.includes('duplicate id') && l.includes('id=reused') && l.includes('command=mark')));
    const logged = readFileSync(join(stateDir, 'commands.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(logged.filter((e) => e.event === 'result').map((e) => e.error), [null, 'duplicate_id', 'duplicate_id', 'duplicate_id']);
  });

  it('an id reused while its request still runs is refused at once', async () => {
    const s = await service();
    const first = s.submit(req('test', 'sleep', { sec: 1 }, 'busy-id'));
    const other = result(await s.submit(req('test', 'once', undefined, 'busy-id')));
    assert.equal(other.error?.code, 'duplicate_id');
    assert.equal(result(await first).ok, true);
    assert.equal(runs(), 0);
  });

  it('after a restart, a redelivered id is refused duplicate_id (not run again); ids and fingerprints are on disk first', async () => {
    const s = await service();
    const payload = req('test', 'once', undefined, 'before-restart');
    assert.equal(result(await s.submit(payload)).ok, true);
    const saved = seenFile();
    const at = saved.ids.indexOf('before-restart');
    assert.ok(at >= 0);
    assert.match(saved.fingerprints[at] ?? '', /^[0-9a-f]{64}$/);
    await s.stop();
    const again = await service();
    const r = result(await again.submit(payload));
    assert.deepEqual(r.error, { code: 'duplicate_id', message: 'request before-restart was already received (before a restart of the agent); it is not run again' });
    const other = result(await again.submit(req('test', 'id', undefined, 'before-restart')));
    assert.deepEqual(other.error, { code: 'duplicate_id', message: 'id before-restart was already used for another request; send a fresh id' });
    assert.equal(runs(), 1, 'mktemp ran exactly once');
    assert.ok(warned('duplicate id', 'before-restart'));
  });

  it('reads the old seen-ids.json without fingerprints: such an id counts as the same request, not run', async () => {
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(join(stateDir, 'seen-ids.json'), JSON.stringify({ v: 1, ids: ['old-1', 'old-2'] }));
    const s = await service();
    const r = result(await s.submit(req('test', 'once', undefined, 'old-2')));
    assert.deepEqual(r.error, { code: 'duplicate_id', message: 'request old-2 was already received (before a restart of the agent); it is not run again' });
    assert.equal(runs(), 0);
    assert.equal(result(await s.submit(req('test', 'once', undefined, 'new-1'))).ok, true);
    assert.deepEqual(seenFile(), { v: 1, ids: ['old-1', 'old-2', 'new-1'], fingerprints: [null, null, seenFile().fingerprints[2]] });
  });

  it('holds only the latest results, by count and by bytes; an evicted one is refused, not run again', async () => {
    const byCount = await service({ heldResultsMax: 2 });
    const first: CmdResult[] = [];
    for (const id of ['h1', 'h2', 'h3']) first.push(result(await byCount.submit(req('test', 'once', undefined, id)))); // answered in this order
    assert.deepEqual(result(await byCount.submit(req('test', 'once', undefined, 'h1'))).error,
      { code: 'duplicate_id', message: 'request h1 was already answered and its result is no longer held; it is not run again' });
    assert.deepEqual(result(await byCount.submit(req('test', 'once', undefined, 'h3'))), first[2]);
    assert.equal(runs(), 3);
    await byCount.stop();

    const bySize = await service({ heldResultsMaxBytes: 700 });
    const big = (id: string) => req('test', 'echo', { msg: 'x'.repeat(250) }, id); // a result of ~420 bytes of JSON
    const b1 = result(await bySize.submit(big('b1')));
    assert.equal(b1.ok, true);
    assert.deepEqual(result(await bySize.submit(big('b1'))), b1, 'one result fits');
    const b2 = result(await bySize.submit(big('b2')));
    assert.equal(result(await bySize.submit(big('b1'))).error?.code, 'duplicate_id', 'two do not: the older goes');
    assert.deepEqual(result(await bySize.submit(big('b2'))), b2);
  });

  it('an invalid request redelivered gets the same refusal again', async () => {
    const s = await service();
    const payload = Buffer.from(JSON.stringify({ v: 1, id: 'bad-again', module: 'test', command: 'id', params: { x: { y: 1 } } }));
    const first = result(await s.submit(payload));
    assert.equal(first.error?.code, 'invalid_request');
    assert.deepEqual(result(await s.submit(payload)), first);
    const other = result(await s.submit(Buffer.from(JSON.stringify({ v: 1, id: 'bad-again', module: 'test', command: 'id', params: { x: [] } }))));
    assert.equal(other.error?.code, 'duplicate_id');
  });

  it('remembers a bounded number of ids, oldest forgotten first', async () => {
    const s = await service({ seenIdsMax: 3 });
    const answers = [];
    for (const id of ['a1', 'a2', 'a3', 'a4']) answers.push(result(await s.submit(req('nope', 'x', undefined, id))));
    assert.deepEqual(seenFile().ids, ['a2', 'a3', 'a4']);
    assert.deepEqual(result(await s.submit(req('nope', 'x', undefined, 'a4'))), answers[3], 'remembered: its result again');
    const a1 = result(await s.submit(req('nope', 'x', undefined, 'a1')));
    assert.deepEqual([a1.error?.code, seenFile().ids], ['unknown_module', ['a3', 'a4', 'a1']], 'forgotten, so taken as a new request');
  });

  it('with maxQueued 0, N+1 concurrent requests: exactly one is refused busy, the rest run', async () => {
    const s = await service({ maxConcurrent: 3, maxQueued: 0 });
    const results = (await Promise.all([0, 1, 2, 3].map(() => s.submit(req('test', 'sleep', { sec: 0 }))))).map(result);
    assert.deepEqual(results.map((r) => r.error?.code ?? 'ok').sort(), ['busy', 'ok', 'ok', 'ok']);
  });

  it('queued requests wait their turn, beyond the queue they are refused busy', async () => {
    const s = await service({ maxConcurrent: 1, maxQueued: 2 });
    const t0 = Date.now();
    const results = (await Promise.all([0, 1, 2, 3].map(() => s.submit(req('test', 'sleep', { sec: 1 }))))).map(result);
    assert.deepEqual(results.map((r) => r.error?.code ?? 'ok'), ['ok', 'ok', 'ok', 'busy']);
    assert.ok(Date.now() - t0 >= 2900, 'one at a time');
  });

  it('a command past its timeout is killed and answered with code timeout', async () => {
    const s = await service();
    const r = result(await s.submit(req('test', 'slow')));
    assert.deepEqual([r.ok, r.error?.code, r.signal], [false, 'timeout', 'SIGTERM']);
  });

  it('stop() kills running commands and answers queued ones with shutting_down', async () => {
    const s = await service({ maxConcurrent: 1, maxQueued: 1 });
    const running = s.submit(req('test', 'sleep', { sec: 300 }));
    const queued = s.submit(req('test', 'sleep', { sec: 300 }));
    await new Promise((r) => setTimeout(r, 200));
    await s.stop();
    const [a, b] = (await Promise.all([running, queued])).map(result);
    assert.deepEqual([a!.error?.code, a!.signal, b!.error?.code, b!.exitCode], ['shutting_down', 'SIGTERM', 'shutting_down', null]);
    const late = result(await s.submit(req('test', 'id')));
    assert.equal(late.error?.code, 'shutting_down');
  });

  it('an invalid request with an id is answered invalid_request; without an id it is dropped and logged', async () => {
    const s = await service();
    const r = result(await s.submit(Buffer.from(JSON.stringify({ v: 1, id: 'bad-1', module: 'test', command: 'id', params: { x: { y: 1 } } }))));
    assert.deepEqual([r.ok, r.id, r.error?.code], [false, 'bad-1', 'invalid_request']);
    assert.match(r.error!.message, /^params\.x: /);
    assert.equal(await s.submit(Buffer.from('not json')), null);
    assert.equal(await s.submit(Buffer.from(JSON.stringify({ v: 1, id: 'has/slash', module: 'test', command: 'id' }))), null);
    assert.ok(log.lines.some((l) => l.includes('not JSON')));
    assert.ok(log.lines.some((l) => l.includes('without a usable id')));
  });

  it('writes every request and outcome to commands.log', async () => {
    const s = await service();
    await s.submit(req('test', 'echo', { msg: 'hello' }, 'log-1'));
    await s.submit(req('test', 'touch', undefined, 'log-2'));
    const lines = readFileSync(join(stateDir, 'commands.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const strip = ({ ts, durationMs, ...rest }: Record<string, unknown>) => {
      assert.equal(typeof ts, 'string');
      return rest;
    };
    assert.deepEqual(lines.map(strip), [
      { event: 'request', id: 'log-1', by: 'alice', module: 'test', command: 'echo', params: { msg: 'hello' } },
      { event: 'result', id: 'log-1', by: 'alice', module: 'test', command: 'echo', params: { msg: 'hello' }, ok: true, exitCode: 0, signal: null, error: null },
      { event: 'request', id: 'log-2', by: 'alice', module: 'test', command: 'touch', params: {} },
      { event: 'result', id: 'log-2', by: 'alice', module: 'test', command: 'touch', params: {}, ok: false, exitCode: null, signal: null, error: 'unknown_command' },
    ]);
  });

  it('keeps commands.log bounded: past the limit it becomes commands.log.1 and a new one starts', async () => {
    const s = await service({ commandLogMaxBytes: 1000 });
    const file = join(stateDir, 'commands.log');
    const ids = (text: string) => text.trim().split('\n').map((l) => (JSON.parse(l) as { id: string; event: string }));
    for (let i = 1; i <= 8; i++) await s.submit(req('test', 'echo', { msg: `m${i}` }, `rot-${i}`));
    const current = readFileSync(file, 'utf8');
    const previous = readFileSync(`${file}.1`, 'utf8');
    assert.ok(Buffer.byteLength(current) <= 1000 && Buffer.byteLength(previous) <= 1000, 'neither file is past the limit');
    const newest = ids(current);
    const older = ids(previous);
    // The newest lines are in commands.log, the ones before them in commands.log.1, nothing out of order.
    assert.deepEqual([newest.at(-1)?.id, newest.at(-1)?.event], ['rot-8', 'result']);
    const seq = [...older, ...newest].map((l) => `${l.id}:${l.event}`);
    const all = Array.from({ length: 8 }, (_, i) => [`rot-${i + 1}:request`, `rot-${i + 1}:result`]).flat();
    assert.deepEqual(seq, all.slice(all.length - seq.length));
    assert.ok(seq.length < all.length, 'the oldest lines are gone');
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  it('keeps logging when the owner empties or removes commands.log', async () => {
    const s = await service({ commandLogMaxBytes: 1000 });
    const file = join(stateDir, 'commands.log');
    for (let i = 1; i <= 3; i++) await s.submit(req('test', 'echo', { msg: `m${i}` }, `gone-${i}`));
    rmSync(file);
    rmSync(`${file}.1`, { force: true });
    for (let i = 4; i <= 5; i++) await s.submit(req('test', 'echo', { msg: `m${i}` }, `gone-${i}`));
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; event: string });
    assert.deepEqual(lines.map((l) => `${l.id}:${l.event}`), ['gone-4:request', 'gone-4:result', 'gone-5:request', 'gone-5:result']);
    assert.ok(!existsSync(`${file}.1`), 'nothing was moved aside: the new file is far from the limit');
    assert.ok(!log.lines.some((l) => l.includes('command log')), log.lines.join('\n'));
  });

  it('runs the doctor: a valid report goes to the callback, a table to stdout', async () => {
    writeModule('health.json', {
      id: 'health', title: 'Health', kind: 'doctor', checks: {
        disk: { title: 'Disk space', builtin: 'disk' },
        hub: { title: 'Hub reachable', builtin: 'hub' },
        certificate: { title: 'Device certificate', builtin: 'certificate' },
        answer: { title: 'The answer', run: ['/bin/echo', 'answer: 42'], pass: { number: { op: '==', value: 42 } } },
        truth: { title: 'Truth', run: ['/bin/false'], pass: { exitCode: 0 } },
        off: { title: 'Off', run: ['/bin/true'], pass: { exitCode: 0 }, enabled: false },
      },
    });
    await registry.reload();
    assert.equal(registry.hasDoctor(), true);
    assert.deepEqual(registry.manifestModules().find((m) => m.id === 'health')?.checks.map((c) => c.name), ['disk', 'hub', 'certificate', 'answer', 'truth']);
    const reports: DoctorReport[] = [];
    const s = await service({ doctor: new Doctor({ configDir: dir, hubUrl: null }), onDoctorReport: (r) => reports.push(r) });
    const r = result(await s.submit(req('doctor', 'run')));
    assert.deepEqual([r.ok, r.exitCode], [true, 0]);
    assert.equal(reports.length, 1);
    const report = DoctorReportSchema.parse(reports[0]);
    assert.deepEqual(report.checks.map((c) => [c.module, c.name, c.status]), [
      ['health', 'disk', report.checks[0]!.status], // depends on this machine's disks
      ['health', 'hub', 'skip'],
      ['health', 'certificate', 'fail'],
      ['health', 'answer', 'pass'],
      ['health', 'truth', 'fail'],
    ]);
    assert.notEqual(report.checks[0]!.status, 'skip', 'the root filesystem was measured');
    assert.equal(report.ok, false);
    assert.match(report.checks[2]!.detail, /pi-agent connect/);
    assert.match(r.stdout, /^FAIL {2}Device certificate/m);
    assert.match(r.stdout, /2 failed, 1 skipped\n$/);
    assert.equal(result(await s.submit(req('doctor', 'fix'))).error?.code, 'unknown_command');
  });

  it('without a doctor module, {module:"doctor"} is an unknown module', async () => {
    const s = await service({ doctor: new Doctor({ configDir: dir, hubUrl: null }) });
    assert.equal(registry.hasDoctor(), false);
    assert.equal(result(await s.submit(req('doctor', 'run'))).error?.code, 'unknown_module');
  });
});

