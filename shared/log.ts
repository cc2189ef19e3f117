// One line per event, journald-friendly: under systemd (JOURNAL_STREAM set) each line starts with a
// syslog priority prefix (<3> error … <7> debug) and no timestamp, since journald adds its own.

export type Level = 'debug' | 'info' | 'warn' | 'error';
export type Fields = Record<string, string | number | boolean | null | undefined>;

const PRIORITY: Record<Level, number> = { error: 3, warn: 4, info: 6, debug: 7 };

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  child(component: string): Logger;
}

export interface LogSink { write(line: string): unknown }

let debugEnabled = process.env.PIFLEET_DEBUG === '1';
export function setDebug(on: boolean): void { debugEnabled = on; }

// Log injection (issue 7): a client id or any other value from the network may hold escape sequences
// that drive a terminal, NULs that cut a line short in some viewers, newlines or U+2028/U+2029 that
// forge a second line. Every such character is written as a visible escape, and lengths are capped
// so one value cannot flood the log.
const MAX_VALUE = 200;
const MAX_MESSAGE = 500;
/** C0, DEL, C1, and the Unicode line and paragraph separators. */
const CONTROLS = '\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029';
const CONTROL = new RegExp(`[${CONTROLS}]`);
/** What a quoted value escapes besides the controls, as JSON does. */
const QUOTED_ESCAPE = new RegExp(`["\\\\${CONTROLS}]`);
/** A value is quoted when it is empty or holds whitespace, a quote, `=`, a backslash or a control. */
const NEEDS_QUOTES = new RegExp(`[\\s"=\\\\${CONTROLS}]`);
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeChar(c: string, quoted: boolean): string {
  if (CONTROL.test(c)) {
    const n = c.charCodeAt(0);
    return NAMED[c] ?? (n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16)}`);
  }
  return quoted && (c === '"' || c === '\\') ? `\\${c}` : c;
}

/**
 * `s` with every control character escaped (and, when `quoted`, `"` and `\`), at most `max` characters
 * long, a cut marked with how many characters of `s` were left out: `abc…(+1234)`.
 */
function escapeText(s: string, max: number, quoted: boolean): string {
  if (s.length <= max && !(quoted ? QUOTED_ESCAPE : CONTROL).test(s)) return s;
  let out = '';
  let used = 0;
  for (const c of s) {
    const e = escapeChar(c, quoted);
    if (out.length + e.length > max) return `${out}…(+${s.length - used})`;
    out += e;
    used += c.length;
  }
  return out;
}

function formatValue(v: string | number | boolean | null): string {
  const s = String(v);
  return s.length > 0 && !NEEDS_QUOTES.test(s) ? escapeText(s, MAX_VALUE, false) : `"${escapeText(s, MAX_VALUE, true)}"`;
}

export function formatLine(level: Level, component: string, msg: string, fields: Fields | undefined, journald: boolean): string {
  let line = journald ? `<${PRIORITY[level]}>` : `${new Date().toISOString()} ${level.padEnd(5)} `;
  line += `${component}: ${escapeText(msg, MAX_MESSAGE, false)}`;
  if (fields) {
    for (const [k, v] of Object.entries(fields)) {
      if (v !== undefined) line += ` ${k}=${formatValue(v)}`;
    }
  }
  return line + '\n';
}

export function createLogger(component: string, sink: LogSink = process.stderr): Logger {
  const journald = Boolean(process.env.JOURNAL_STREAM);
  const emit = (level: Level) => (msg: string, fields?: Fields) => {
    if (level === 'debug' && !debugEnabled) return;
    sink.write(formatLine(level, component, msg, fields, journald));
  };
  return {
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    child: (sub: string) => createLogger(`${component}/${sub}`, sink),
  };
}
