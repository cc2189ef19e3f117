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

function formatValue(v: string | number | boolean | null): string {
  const s = String(v);
  return /^[^\s"=]*$/.test(s) && s.length > 0 ? s : JSON.stringify(s);
}

export function formatLine(level: Level, component: string, msg: string, fields: Fields | undefined, journald: boolean): string {
  let line = journald ? `<${PRIORITY[level]}>` : `${new Date().toISOString()} ${level.padEnd(5)} `;
  line += `${component}: ${msg.replace(/\n/g, ' ')}`;
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
