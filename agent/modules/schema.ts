// The format of a module file in <config-dir>/modules/*.json (docs/ARCHITECTURE.md, "Command modules").
// This schema is the single source of the module types and of modules/module.schema.json
// (scripts/gen-module-schema.ts). Pure: no I/O.
import * as z from 'zod';
import { GpioModeSchema, GpioValueSchema, NameSchema, ParamSpecSchema } from '../../shared/schemas.js';

/** The id a commands module may not take: `{module:"doctor", command:"run"}` runs the doctor. */
export const DOCTOR_ID = 'doctor';
export const DEFAULT_TIMEOUT_SEC = 30;
export const MAX_TIMEOUT_SEC = 3600;
export const MAX_ARGS = 256;

/** Debian's NAME_REGEX (adduser.conf); never starts with `-` or a digit, so getent sees a name. */
export const USER_NAME_RE = /^[a-z_][a-z0-9_-]{0,31}$/;
/** An argv element that is exactly `{name}`: the only place a parameter may go. */
export const PLACEHOLDER_RE = /^\{([a-z0-9][a-z0-9_-]{0,63})\}$/;
const EMBEDDED_PLACEHOLDER_RE = /\{[a-z0-9][a-z0-9_-]{0,63}\}/;

const Title = z.string().min(1).max(120);
const UserName = z.string().regex(USER_NAME_RE, 'a user name is 1–32 of a–z, 0–9, _ and -, starting with a letter or _')
  .describe('The user the program runs as (uid, gid and supplementary groups). Default: the agent\'s defaultUser (pi).');
const Arg = z.string().max(4096).refine((s) => !s.includes('\0'), 'an argument may not contain NUL');
const Program = z.string({ error: (iss) => (iss.input === undefined ? 'run needs at least the program: ["/absolute/path", ...arguments]' : undefined) }).max(4096).regex(/^\/[^\0]*$/, 'run[0] must be the absolute path of the program (run is an argv array, never a shell string)');

const Argv = z.tuple([Program], Arg, { error: (iss) => (iss.code === 'invalid_type' ? 'run is an argv array such as ["/usr/bin/systemctl", "reboot"], never a shell string' : undefined) })
  .refine((a) => a.length <= MAX_ARGS, `at most ${MAX_ARGS} arguments`)
  .describe('argv: the absolute path of the program, then its arguments. No shell. A parameter fills a whole element written exactly "{name}".');

const TimeoutSec = z.number().positive().max(MAX_TIMEOUT_SEC).default(DEFAULT_TIMEOUT_SEC)
  .describe('SIGTERM to the whole process group after this many seconds, SIGKILL a few seconds later.');
const Enabled = z.boolean().default(true).describe('false: the entry does not exist (not shown, refused).');

/** A parameter may only fill a whole argv element; every placeholder is declared and every declared parameter used. */
function checkPlaceholders(run: readonly string[], params: Record<string, unknown>, ctx: z.RefinementCtx, noParams = false): void {
  const used = new Set<string>();
  run.forEach((arg, i) => {
    if (typeof arg !== 'string') return;
    const whole = PLACEHOLDER_RE.exec(arg);
    if (whole) {
      const name = whole[1]!;
      if (noParams) ctx.addIssue({ code: 'custom', path: ['run', i], message: `a check takes no parameters, but "${arg}" is a placeholder` });
      else if (!Object.hasOwn(params, name)) ctx.addIssue({ code: 'custom', path: ['run', i], message: `placeholder "${arg}" is not a declared parameter (declare it in "params")` });
      used.add(name);
    } else if (EMBEDDED_PLACEHOLDER_RE.test(arg)) {
      ctx.addIssue({ code: 'custom', path: ['run', i], message: `a parameter may only fill a whole argument: "${EMBEDDED_PLACEHOLDER_RE.exec(arg)![0]}" must be an element of run on its own` });
    }
  });
  for (const name of Object.keys(params)) {
    if (!used.has(name)) ctx.addIssue({ code: 'custom', path: ['params', name], message: `parameter "${name}" is declared but run never uses "{${name}}"` });
  }
}

// The shared ParamSpecSchema's own branches, with a message for a value that fits none of them.
const ParamSpec = z.union(ParamSpecSchema.options, {
  error: 'a parameter is {"enum": [...]}, {"type": "integer", "min"?: N, "max"?: N} or {"pattern": "^...$", "maxLength"?: N}',
});

export const CommandSchema = z.strictObject({
  title: Title,
  run: Argv,
  user: UserName.optional(),
  confirm: z.boolean().default(false).describe('The dashboard asks before it sends the request.'),
  enabled: Enabled,
  timeoutSec: TimeoutSec,
  params: z.record(NameSchema, ParamSpec).default({})
    .describe('Each parameter is {"enum": [...]}, {"type": "integer", "min", "max"} or {"pattern": "^…$", "maxLength"}.'),
}).superRefine((c, ctx) => checkPlaceholders(c.run ?? [], c.params ?? {}, ctx));
export type CommandDef = z.infer<typeof CommandSchema>;

// ---- doctor checks ---------------------------------------------------------------------------------

const Percent = z.number().min(0).max(100);
const Celsius = z.number().min(-40).max(150);
const Days = z.number().min(0).max(3650);

const DiskCheck = z.strictObject({
  title: Title, enabled: Enabled, builtin: z.literal('disk'),
  warnPercent: Percent.default(85), failPercent: Percent.default(95),
}).refine((c) => c.warnPercent <= c.failPercent, { path: ['warnPercent'], message: 'warnPercent must not exceed failPercent' })
  .describe('Used space of / and every other real mount.');
const TemperatureCheck = z.strictObject({
  title: Title, enabled: Enabled, builtin: z.literal('temperature'),
  warnC: Celsius.default(70), failC: Celsius.default(80),
}).refine((c) => c.warnC <= c.failC, { path: ['warnC'], message: 'warnC must not exceed failC' })
  .describe('SoC temperature; skipped without a sensor.');
const ThrottlingCheck = z.strictObject({ title: Title, enabled: Enabled, builtin: z.literal('throttling') })
  .describe('Under-voltage and throttling (vcgencmd get_throttled); skipped without vcgencmd.');
const ClockCheck = z.strictObject({ title: Title, enabled: Enabled, builtin: z.literal('clock') })
  .describe('NTP synchronisation (timedatectl, else systemd-timesyncd); skipped when neither can tell.');
const HubCheck = z.strictObject({
  title: Title, enabled: Enabled, builtin: z.literal('hub'),
  timeoutSec: z.number().positive().max(60).default(5),
}).describe('A TLS connection to the hub from agent.json; skipped when this Pi is not connected.');
const CertificateCheck = z.strictObject({
  title: Title, enabled: Enabled, builtin: z.literal('certificate'),
  warnDays: Days.default(7), failDays: Days.default(2),
}).refine((c) => c.warnDays >= c.failDays, { path: ['warnDays'], message: 'warnDays must not be less than failDays' })
  .describe('Days left on <config-dir>/cert.pem (renewed at two thirds of its lifetime).');

export const BUILTIN_CHECKS = ['disk', 'temperature', 'throttling', 'clock', 'hub', 'certificate'] as const;
export type BuiltinName = (typeof BUILTIN_CHECKS)[number];

const PassSchema = z.union([
  z.strictObject({ exitCode: z.number().int().min(0).max(255) }),
  z.strictObject({
    number: z.strictObject({
      op: z.enum(['<', '<=', '>', '>=', '==']),
      value: z.number(),
      warn: z.number().optional().describe('Warn (rather than pass) unless the number also satisfies op against this.'),
    }),
  }),
], { error: 'pass is {"exitCode": N} or {"number": {"op": "<"|"<="|">"|">="|"==", "value": N, "warn"?: N}}' })
  .describe('exitCode: passes when the program exits with it. number: the first number printed on stdout, compared with value.');
export type PassSpec = z.infer<typeof PassSchema>;

const CommandCheck = z.strictObject({
  title: Title,
  enabled: Enabled,
  // Present only so the discriminated union can tell a command check by the absence of "builtin".
  builtin: z.undefined().optional(),
  run: Argv,
  user: UserName.optional(),
  timeoutSec: TimeoutSec,
  pass: PassSchema,
}).superRefine((c, ctx) => checkPlaceholders(c.run ?? [], {}, ctx, true));

export const CheckSchema = z.discriminatedUnion('builtin', [DiskCheck, TemperatureCheck, ThrottlingCheck, ClockCheck, HubCheck, CertificateCheck, CommandCheck], {
  error: (iss) => iss.code === 'invalid_union' ? `builtin is one of ${BUILTIN_CHECKS.join(', ')}; a command check has "run" and "pass" and no "builtin"` : undefined,
});
export type CheckDef = z.infer<typeof CheckSchema>;
export type BuiltinCheckDef = Extract<CheckDef, { builtin: BuiltinName }>;
export type CommandCheckDef = Extract<CheckDef, { run: unknown }>;

// ---- module files ----------------------------------------------------------------------------------

const SchemaRef = z.string().max(1024).optional().describe('For editors: "./module.schema.json".');

export const CommandsModuleSchema = z.strictObject({
  $schema: SchemaRef,
  id: NameSchema.refine((id) => id !== DOCTOR_ID, `"${DOCTOR_ID}" is reserved for the doctor: use "kind": "doctor" or another id`),
  title: Title,
  kind: z.literal('commands').default('commands'),
  commands: z.record(NameSchema, CommandSchema),
});

export const DoctorModuleSchema = z.strictObject({
  $schema: SchemaRef,
  id: NameSchema,
  title: Title,
  kind: z.literal('doctor'),
  checks: z.record(NameSchema, CheckSchema),
});

// ---- GPIO pins (docs/ARCHITECTURE.md, "GPIO") ---------------------------------------------------------

/** BCM 0 and 1 are ID_SD/ID_SC, the I²C bus of a HAT's ID EEPROM: the firmware reads it at boot. */
export const RESERVED_PINS: readonly number[] = [0, 1];
export const MAX_BCM = 27;
export const DEFAULT_DEBOUNCE_MS = 20;
/** The frequencies a set may carry at all (PwmSchema, shared/schemas.ts); a driver may narrow them further. */
const MAX_PWM_HZ = 100_000;

const BcmKey = z.string().regex(/^(?:[0-9]|1[0-9]|2[0-7])$/, `a pin is its BCM number, 0–${MAX_BCM}, written without leading zeros`);
const Level = GpioValueSchema;
const Modes = z.array(GpioModeSchema).min(1).max(3)
  .refine((m) => new Set(m).size === m.length, 'a mode may be listed once')
  .describe('What a set may make of the pin: "in" (read it), "out" (0 or 1), "pwm" (duty 0–1 at a frequency).');

export const GpioPinSchema = z.strictObject({
  name: z.string().min(1).max(80).optional().describe('Shown by the dashboard. Default: "GPIO<bcm>".'),
  modes: Modes,
  initial: Level.optional().describe('The level an output takes when the agent starts. Default: 0, or an input for a pin that declares "in".'),
  safe: Level.optional().describe('The level on SIGTERM, when the pin is removed, when holdSec runs out and on fail-safe. Default: initial (an input for a pin that declares "in" and no initial).'),
  failSafe: z.boolean().optional().describe('Go to the safe level when the hub link has been down for agent.json gpioFailSafeSec (30).'),
  holdSec: z.number().positive().max(86_400).optional().describe('Back to the safe level unless a set renews the pin within this many seconds.'),
  pwm: z.strictObject({
    freqHz: z.tuple([z.number().positive().max(MAX_PWM_HZ), z.number().positive().max(MAX_PWM_HZ)])
      .refine(([lo, hi]) => lo <= hi, 'freqHz is [lowest, highest]: the first may not exceed the second')
      .describe('[lowest, highest] frequency a set may ask for, in Hz; the driver may narrow it (software PWM: see the README).'),
  }).optional(),
  pull: z.enum(['up', 'down', 'none']).optional().describe('The input\'s pull resistor. Default: none.'),
  edge: z.enum(['both', 'rising', 'falling']).optional().describe('Which debounced changes of an input are published. Default: both.'),
  debounceMs: z.number().int().min(0).max(1000).optional().describe(`A change counts once the input has held it this long. Default: ${DEFAULT_DEBOUNCE_MS}.`),
  allowReserved: z.boolean().optional().describe('Allow BCM 0 or 1 (the HAT ID EEPROM\'s pins).'),
}).superRefine((p, ctx) => {
  const modes = p.modes ?? [];
  const output = modes.includes('out') || modes.includes('pwm');
  if (modes.includes('pwm') && !p.pwm) ctx.addIssue({ code: 'custom', path: ['pwm'], message: 'a pin with mode "pwm" needs "pwm": {"freqHz": [lowest, highest]}' });
  if (p.pwm && !modes.includes('pwm')) ctx.addIssue({ code: 'custom', path: ['pwm'], message: '"pwm" is for a pin with mode "pwm"' });
  for (const key of ['initial', 'safe', 'failSafe', 'holdSec'] as const) {
    if (p[key] !== undefined && !output) ctx.addIssue({ code: 'custom', path: [key], message: `"${key}" is for an output: add "out" or "pwm" to modes` });
  }
  for (const key of ['pull', 'edge', 'debounceMs'] as const) {
    if (p[key] !== undefined && !modes.includes('in')) ctx.addIssue({ code: 'custom', path: [key], message: `"${key}" is for an input: add "in" to modes` });
  }
});
export type GpioPinDef = z.infer<typeof GpioPinSchema>;

/** A pin of a gpio module with its defaults filled in: what the GPIO service and the CLI use. */
export interface LoadedPin {
  module: string;
  bcm: number;
  name: string;
  modes: GpioPinDef['modes'];
  initial?: 0 | 1;
  safe?: 0 | 1;
  failSafe: boolean;
  holdSec?: number;
  pwm?: { minHz: number; maxHz: number };
  pull: 'up' | 'down' | 'none';
  edge: 'both' | 'rising' | 'falling';
  debounceMs: number;
}

export function loadedPin(module: string, bcm: number, p: GpioPinDef): LoadedPin {
  return {
    module, bcm, name: p.name ?? `GPIO${bcm}`, modes: p.modes, failSafe: p.failSafe ?? false,
    ...(p.initial !== undefined ? { initial: p.initial } : {}),
    ...(p.safe !== undefined ? { safe: p.safe } : {}),
    ...(p.holdSec !== undefined ? { holdSec: p.holdSec } : {}),
    ...(p.pwm ? { pwm: { minHz: p.pwm.freqHz[0], maxHz: p.pwm.freqHz[1] } } : {}),
    pull: p.pull ?? 'none', edge: p.edge ?? 'both', debounceMs: p.debounceMs ?? DEFAULT_DEBOUNCE_MS,
  };
}

export const GpioModuleSchema = z.strictObject({
  $schema: SchemaRef,
  id: NameSchema,
  title: Title,
  kind: z.literal('gpio'),
  pins: z.record(BcmKey, GpioPinSchema).describe('Keyed by BCM number: the only pins the hub may read or set.'),
}).superRefine((m, ctx) => {
  for (const [key, pin] of Object.entries(m.pins ?? {})) {
    if (RESERVED_PINS.includes(Number(key)) && pin?.allowReserved !== true) {
      ctx.addIssue({ code: 'custom', path: ['pins', key], message: `BCM ${key} is reserved for a HAT's ID EEPROM (ID_SD/ID_SC): add "allowReserved": true to use it anyway` });
    }
  }
});
export type GpioModuleFile = z.infer<typeof GpioModuleSchema>;

export const ModuleFileSchema = z.discriminatedUnion('kind', [CommandsModuleSchema, DoctorModuleSchema, GpioModuleSchema], {
  error: (iss) => iss.code === 'invalid_union' ? 'kind is "commands" (the default), "doctor" or "gpio"' : undefined,
}).describe('A pi-agent module: what this Pi allows the hub to run (kind "commands") checks it runs for the doctor (kind "doctor") or the GPIO pins it offers (kind "gpio").');
export type ModuleFile = z.infer<typeof ModuleFileSchema>;
export type CommandsModuleFile = z.infer<typeof CommandsModuleSchema>;
export type DoctorModuleFile = z.infer<typeof DoctorModuleSchema>;

// ---- problems --------------------------------------------------------------------------------------

export interface SchemaProblem { path: string; message: string }

export function formatPath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(root)' : path.map(String).join('.');
}

type Issue = z.core.$ZodIssue;

/**
 * Turns zod issues into `json.path: reason`. A union that failed as a whole is replaced by its
 * closest branch (the one with the fewest issues) so the path points at the actual mistake; when
 * branches tie, the union's own message stays.
 */
export function schemaProblems(issues: readonly Issue[], prefix: readonly PropertyKey[] = []): SchemaProblem[] {
  const out: SchemaProblem[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const sizes = issue.errors.map((b) => b.length);
      const best = Math.min(...sizes);
      if (sizes.filter((s) => s === best).length === 1) {
        out.push(...schemaProblems(issue.errors[sizes.indexOf(best)]!, path));
        continue;
      }
    }
    // A bad record key: the key's own rule says more than "Invalid key in record".
    const message = issue.code === 'invalid_key' && issue.issues[0] ? `invalid name: ${issue.issues[0].message}` : issue.message;
    out.push({ path: formatPath(path), message });
  }
  return out;
}

export type ModuleParse = { ok: true; module: ModuleFile } | { ok: false; problems: SchemaProblem[] };

/** Parses the text of a module file: JSON syntax, then the schema. */
export function parseModuleText(text: string): ModuleParse {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, problems: [{ path: '(root)', message: `not valid JSON: ${jsonErrorWhere(text, (err as Error).message)}` }] };
  }
  const r = ModuleFileSchema.safeParse(raw);
  return r.success ? { ok: true, module: r.data } : { ok: false, problems: schemaProblems(r.error.issues) };
}

/** Node 20 reports a JSON syntax error by offset; owners edit by line. */
function jsonErrorWhere(text: string, message: string): string {
  const m = /at position (\d+)/.exec(message);
  if (!m || /\(line \d+/.test(message)) return message;
  const before = text.slice(0, Number(m[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `${message} (line ${line} column ${column})`;
}

// ---- JSON Schema for editors ------------------------------------------------------------------------

/** modules/module.schema.json, as scripts/gen-module-schema.ts writes it (draft-07: what editors know best). */
export function moduleJsonSchemaText(): string {
  const schema = z.toJSONSchema(ModuleFileSchema, {
    target: 'draft-7',
    io: 'input',
    unrepresentable: 'any',
    override: (ctx) => {
      // A command check's "builtin" is z.undefined(): in JSON Schema, a property that may not be present.
      if (ctx.zodSchema._zod.def.type === 'undefined') ctx.jsonSchema.not = {};
    },
  });
  return `${JSON.stringify({ ...schema, title: 'pi-agent module' }, null, 2)}\n`;
}
