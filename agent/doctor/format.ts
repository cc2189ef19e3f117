// A doctor report as text: what `pi-agent doctor` prints and a doctor request's stdout.
import type { CheckStatus, DoctorReport } from '../../shared/schemas.js';

const STATUS_LABEL: Record<CheckStatus, string> = { pass: 'pass', warn: 'WARN', fail: 'FAIL', skip: 'skip' };

/** A short text table: one line per check, then a summary. */
export function formatDoctorReport(report: DoctorReport): string {
  const width = Math.min(40, Math.max(5, ...report.checks.map((c) => c.title.length)));
  const lines = report.checks.map((c) => `${STATUS_LABEL[c.status]}  ${c.title.padEnd(width)}  ${c.detail}`);
  const count = (s: CheckStatus) => report.checks.filter((c) => c.status === s).length;
  lines.push(`${count('pass')} passed, ${count('warn')} warning${count('warn') === 1 ? '' : 's'}, ${count('fail')} failed, ${count('skip')} skipped`);
  return `${lines.join('\n')}\n`;
}
