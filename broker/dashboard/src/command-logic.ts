// What the page checks and shows about a command before it is sent, without the DOM: a parameter value
// as the agent will judge it, and the argv a confirmation previews.
import type { ManifestModule, ParamSpec } from '../../../shared/schemas.js';

type ManifestCommand = ManifestModule['commands'][number];

/**
 * Manifest fields the preview needs and ManifestSchema does not carry yet (proposed for the agent):
 * a command's argv template, and the module's file name and SHA-256 of its bytes. Read only if present.
 */
interface PreviewFields { command: { run?: readonly string[] }; module: { file?: string; sha256?: string } }

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
  const run = (cmd as ManifestCommand & PreviewFields['command']).run;
  const m = mod as ManifestModule & PreviewFields['module'];
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

