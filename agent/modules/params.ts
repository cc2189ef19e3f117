// Checks a request's parameters against what the command declares and fills them into its argv.
// Pure; errors are values. A value only ever becomes one whole argv element (the schema guarantees
// placeholders are whole elements), and there is no shell, so `; rm -rf /` or `$(id)` stay inert
// text — the checks here are about what the owner declared, plus option smuggling (a pattern value
// starting with "-", a negative integer the owner did not allow) and control characters that no
// declared value needs.
import type { ParamSpec } from '../../shared/schemas.js';
import { PLACEHOLDER_RE } from './schema.js';

export type ParamValue = string | number;
export type ParamsOutcome = { ok: true; argv: string[] } | { ok: false; message: string };

/** A pattern value's length limit when the module does not declare maxLength. */
export const DEFAULT_MAX_LENGTH = 256;
const DECIMAL_INTEGER_RE = /^-?[0-9]{1,16}$/;
// NUL and line breaks can never be meant; the other C0 controls and DEL neither.
const CONTROL_RE = /[\u0000-\u001f\u007f]/;

type One = { ok: true; value: string } | { ok: false; message: string };

function describe(value: ParamValue): string {
  const s = JSON.stringify(value);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Validates one value against its spec and returns the exact argv element it becomes. */
export function checkParam(name: string, spec: ParamSpec, value: ParamValue): One {
  if (typeof value !== 'string' && typeof value !== 'number') return { ok: false, message: `parameter "${name}": expected a string or an integer` };
  if (typeof value === 'string' && CONTROL_RE.test(value)) {
    return { ok: false, message: `parameter "${name}": control characters (NUL, newline, …) are not allowed` };
  }
  if ('enum' in spec) {
    const s = String(value);
    return spec.enum.includes(s) ? { ok: true, value: s } : { ok: false, message: `parameter "${name}": ${describe(value)} is not one of ${spec.enum.map((e) => JSON.stringify(e)).join(', ')}` };
  }
  if ('type' in spec) {
    let n: number;
    if (typeof value === 'number') n = value;
    else if (DECIMAL_INTEGER_RE.test(value)) n = Number(value);
    else return { ok: false, message: `parameter "${name}": ${describe(value)} is not an integer` };
    if (!Number.isSafeInteger(n)) return { ok: false, message: `parameter "${name}": ${describe(value)} is not an integer` };
    // A leading "-" turns a value into something else for many programs (`kill -1` is every process),
    // so negatives are for parameters whose owner declared a negative min, and for no other.
    if (n < 0 && !(spec.min !== undefined && spec.min < 0)) {
      return { ok: false, message: `parameter "${name}": ${n} is negative; this parameter takes no negative values` };
    }
    if (spec.min !== undefined && n < spec.min) return { ok: false, message: `parameter "${name}": ${n} is less than ${spec.min}` };
    if (spec.max !== undefined && n > spec.max) return { ok: false, message: `parameter "${name}": ${n} is more than ${spec.max}` };
    return { ok: true, value: String(n + 0) }; // canonical: "007" → "7", -0 → "0"
  }
  if (typeof value !== 'string') return { ok: false, message: `parameter "${name}": expected a string` };
  const max = spec.maxLength ?? DEFAULT_MAX_LENGTH;
  if (value.length > max) return { ok: false, message: `parameter "${name}": longer than ${max} characters` };
  // Whatever the pattern allows, a leading "-" would let a value pass as an option of the program.
  if (value.startsWith('-')) return { ok: false, message: `parameter "${name}": may not start with "-"` };
  // Wrapped so an alternation such as "^a|b$" cannot match only part of the value.
  if (!new RegExp(`^(?:${spec.pattern})$`).test(value)) {
    return { ok: false, message: `parameter "${name}": ${describe(value)} does not match ${spec.pattern}` };
  }
  return { ok: true, value };
}

/**
 * Validates `values` against `specs` (every declared parameter is required, no other is allowed)
 * and returns `template` with each `{name}` element replaced by its value.
 */
export function buildArgv(template: readonly string[], specs: Readonly<Record<string, ParamSpec>>, values: Readonly<Record<string, ParamValue>> | undefined): ParamsOutcome {
  const given = values ?? {};
  const unknown = Object.keys(given).filter((k) => !Object.hasOwn(specs, k)).sort();
  if (unknown.length > 0) return { ok: false, message: `unknown parameter${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}` };
  const filled = new Map<string, string>();
  for (const [name, spec] of Object.entries(specs)) {
    if (!Object.hasOwn(given, name)) return { ok: false, message: `missing parameter "${name}"` };
    const r = checkParam(name, spec, given[name]!);
    if (!r.ok) return r;
    filled.set(name, r.value);
  }
  const argv: string[] = [];
  for (const arg of template) {
    const m = PLACEHOLDER_RE.exec(arg);
    const v = m ? filled.get(m[1]!) : undefined;
    // An undeclared placeholder cannot pass the schema; refuse rather than run it literally.
    if (m && v === undefined) return { ok: false, message: `placeholder ${arg} has no declared parameter` };
    argv.push(v ?? arg);
  }
  return { ok: true, argv };
}
