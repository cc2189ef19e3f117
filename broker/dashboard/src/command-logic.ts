// What the page checks and shows about a command before it is sent, without the DOM: a parameter value
// as the agent will judge it, and the argv a confirmation previews.
import type { ManifestModule, ParamSpec } from '../../../shared/schemas.js';

type ManifestCommand = ManifestModule['commands'][number];

export interface Preview {
  argv: string[] | null;
  user: string;
  module: string;
  file: string | null;
  sha256: string | null;
  timeoutSec: number;
}

const PLACEHOLDER = /^\{([a-z0-9][a-z0-9_-]{0,63})\}$/;

/** The argv as the Pi will run it: each `{name}` element replaced by its value, as the agent does. */
export function previewOf(mod: ManifestModule, cmd: ManifestCommand, params: Record<string, string | number>): Preview {
  // An older agent's manifest, or one past its size limit, has no argv (run) or no version (sha256).
  const { run } = cmd;
  const m = mod;
  const argv = run ? run.map((a) => {
    const p = PLACEHOLDER.exec(a);
    return p && p[1]! in params ? String(params[p[1]!]) : a;
  }) : null;
  return { argv, user: cmd.user, module: mod.id, file: m.file ?? null, sha256: m.sha256 ?? null, timeoutSec: cmd.timeoutSec };
}

/** A value as the agent will check it (docs/ARCHITECTURE.md, "Command modules"): the Pi decides; this only spares a round trip. */
export function checkParam(spec: ParamSpec, raw: string): string | number | { problem: string } {
  if ('enum' in spec) return spec.enum.includes(raw) ? raw : { problem: 'choose one of the listed values' };
  if ('type' in spec) {
    if (!/^-?\d+$/.test(raw.trim())) return { problem: 'a whole number' };
    const n = Number(raw.trim());
    if (spec.min !== undefined && n < spec.min) return { problem: `at least ${spec.min}` };
    if (spec.max !== undefined && n > spec.max) return { problem: `at most ${spec.max}` };
    if (n < 0 && (spec.min === undefined || spec.min >= 0)) return { problem: 'not negative' };
    return n;
  }
  if (raw.startsWith('-')) return { problem: 'may not start with "-"' };
  if (raw.length > (spec.maxLength ?? 256)) return { problem: `at most ${spec.maxLength ?? 256} characters` };
  if (/[\u0000-\u001f\u007f]/.test(raw)) return { problem: 'no control characters' };
  if (!new RegExp(spec.pattern).test(raw)) return { problem: `must match ${spec.pattern}` };
  return raw;
}

