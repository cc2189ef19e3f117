import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Output } from '../../../../agent/cli-output.js';
import { doctorCommand } from '../../../../agent/doctor/cli.js';
import { DoctorReportSchema } from '../../../../shared/schemas.js';

function capture(): Output & { stdout: string; stderr: string } {
  const o = { stdout: '', stderr: '', out: (s: string) => { o.stdout += s; }, err: (s: string) => { o.stderr += s; } };
  return o;
}

const dir = mkdtempSync(join(tmpdir(), 'pifleet-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'modules'));
const ctx = { configDir: dir, defaultUser: 'nobody' };

describe('pi-agent doctor', () => {
  it('falls back to the built-in checks, prints the report, exits 1 when a check fails', async () => {
    const io = capture();
    const code = await doctorCommand(['--json'], { ...ctx, hubUrl: null }, io);
    const report = DoctorReportSchema.parse(JSON.parse(io.stdout));
    assert.deepEqual(report.checks.map((c) => c.name), ['disk', 'temperature', 'throttling', 'clock', 'hub', 'certificate']);
    assert.equal(report.checks.find((c) => c.name === 'certificate')?.status, 'fail', 'no cert.pem in the config dir');
    assert.equal(code, 1);
    assert.match(io.stderr, /no doctor module in .*: running the built-in checks/);
  });
});
