// A command result that carries only a refusal: built by the agent (unknown command, busy…) and by
// the hub (a request it could not validate or deliver), so both answer in the same shape.
import type { CmdResult, ErrorCode } from './schemas.js';
import { REQUEST_ID_RE } from './topics.js';

export function errorResult(id: string, code: ErrorCode, message: string): CmdResult {
  return {
    v: 1, id, ok: false, exitCode: null, signal: null, stdout: '', stderr: '', truncated: false, durationMs: 0,
    error: { code, message: message.slice(0, 1000) },
  };
}

/** The id of a request that failed its schema, if it has a usable one (its answer needs a topic). */
export function requestIdOf(raw: unknown): string | null {
  const id = (raw as { id?: unknown } | null)?.id;
  return typeof id === 'string' && REQUEST_ID_RE.test(id) ? id : null;
}
