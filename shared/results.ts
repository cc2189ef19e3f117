// A command result that carries only a refusal: built by the agent (unknown command, busy…) and by
// the hub (a request it could not validate or deliver), so both answer in the same shape.
import type { CmdResult, ErrorCode } from './schemas.js';

export function errorResult(id: string, code: ErrorCode, message: string): CmdResult {
  return {
    v: 1, id, ok: false, exitCode: null, signal: null, stdout: '', stderr: '', truncated: false, durationMs: 0,
    error: { code, message: message.slice(0, 1000) },
  };
}
