import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { grade, realMounts } from '../../../agent/doctor/builtins.js';
import { evaluateNumber, firstNumber } from '../../../agent/doctor/doctor.js';
import { formatDoctorReport } from '../../../agent/doctor/format.js';
import { DoctorReportSchema } from '../../../shared/schemas.js';

describe('doctor rules', () => {
  it('realMounts keeps / and device-backed filesystems, decodes escapes, drops pseudo and read-only image filesystems', () => {
    const mounts = [
      'proc /proc proc rw 0 0',
      'overlay / overlay rw 0 0',
      '/dev/mmcblk0p1 /boot/firmware vfat rw 0 0',
      '/dev/sda1 /media/usb\\040stick ext4 rw 0 0',
      'tmpfs /run tmpfs rw 0 0',
      '/dev/loop0 /snap/core/1 squashfs ro 0 0',
      '/dev/mmcblk0p1 /boot/firmware vfat rw 0 0',
      '',
    ].join('\n');
    assert.deepEqual(realMounts(mounts), ['/', '/boot/firmware', '/media/usb stick']);
  });

  const NUMBERS: [string, number | null][] = [
    ["temp=48.3'C", 48.3], ['load 0.52 0.40', 0.52], ['-12 dBm', -12], ['none', null], ['', null], ['v2: 7', 2],
  ];
  for (const [text, n] of NUMBERS) it(`firstNumber(${JSON.stringify(text)}) = ${n}`, () => assert.equal(firstNumber(text), n));

  const EVAL: [number, Parameters<typeof evaluateNumber>[1], string][] = [
    [50, { op: '<', value: 90, warn: 75 }, 'pass'],
    [80, { op: '<', value: 90, warn: 75 }, 'warn'],
    [90, { op: '<', value: 90, warn: 75 }, 'fail'],
    [90, { op: '<=', value: 90 }, 'pass'],
    [3, { op: '>', value: 1 }, 'pass'],
    [1, { op: '>=', value: 2 }, 'fail'],
    [0, { op: '==', value: 0 }, 'pass'],
    [1, { op: '==', value: 0 }, 'fail'],
  ];
  for (const [n, spec, status] of EVAL) it(`${n} ${spec.op} ${spec.value}${spec.warn !== undefined ? ` (warn ${spec.warn})` : ''} → ${status}`, () => assert.equal(evaluateNumber(n, spec), status));

  it('grade: at the warn bound warns, at the fail bound fails', () => {
    assert.deepEqual([grade(84.9, 85, 95), grade(85, 85, 95), grade(95, 85, 95)], ['pass', 'warn', 'fail']);
  });

  it('formatDoctorReport prints one line per check and a summary', () => {
    const report = DoctorReportSchema.parse({
      v: 1, ts: 1, ok: false, checks: [
        { module: 'doctor', name: 'disk', title: 'Disk space', status: 'pass', detail: '/ 22% used', durationMs: 1 },
        { module: 'doctor', name: 'certificate', title: 'Device certificate', status: 'fail', detail: 'no device certificate', durationMs: 0 },
      ],
    });
    assert.equal(formatDoctorReport(report), [
      'pass  Disk space          / 22% used',
      'FAIL  Device certificate  no device certificate',
      '1 passed, 0 warnings, 1 failed, 0 skipped',
      '',
    ].join('\n'));
  });
});
