// Message and API schemas shared by pi-hub and pi-agent. Each schema is the single source of its type.
// Every MQTT payload carries "v": 1 (docs/ARCHITECTURE.md, "Topics and payloads").
import * as z from 'zod';
import { MAX_OUTPUT_CHARS, MAX_PARAMS, MAX_PARAM_CHARS } from './limits.js';
import { REQUEST_ID_RE, SERIAL_RE } from './topics.js';

const V = z.literal(1);
const Ts = z.number().int().nonnegative();
const Bytes = z.number().nonnegative();

export const SerialSchema = z.string().regex(SERIAL_RE, 'a serial is 1–64 of A–Z, a–z, 0–9, _ and -');
/** A SHA-256 digest in lower-case hex. */
export const Sha256Schema = z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 in lower-case hex');
export const RequestIdSchema = z.string().regex(REQUEST_ID_RE, 'an id is 1–64 of A–Z, a–z, 0–9, _ and -');
/** Module, command, check and parameter names. */
export const NameSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'a name is 1–64 of a–z, 0–9, _ and -, starting with a letter or digit');

// ---- presence and stats -------------------------------------------------------------------------

export const StatusSchema = z.strictObject({
  v: V,
  online: z.boolean(),
  ts: Ts,
  agentVersion: z.string().max(64).optional(),
});
export type Status = z.infer<typeof StatusSchema>;

/** `vcgencmd get_throttled`, decoded (bits 0–3 now, 16–19 since boot). */
export const ThrottledSchema = z.strictObject({
  raw: z.number().int().nonnegative(),
  underVoltageNow: z.boolean(),
  freqCappedNow: z.boolean(),
  throttledNow: z.boolean(),
  softTempLimitNow: z.boolean(),
  underVoltageEver: z.boolean(),
  freqCappedEver: z.boolean(),
  throttledEver: z.boolean(),
  softTempLimitEver: z.boolean(),
});
export type Throttled = z.infer<typeof ThrottledSchema>;

export const StatsSchema = z.strictObject({
  v: V,
  ts: Ts,
  cpu: z.strictObject({ load: z.number().nonnegative(), tempC: z.number().nullable().optional() }),
  mem: z.strictObject({ total: Bytes, used: Bytes }),
  disk: z.array(z.strictObject({ mount: z.string().max(256), size: Bytes, used: Bytes })).max(64),
  net: z.array(z.strictObject({ iface: z.string().max(64), rxBytes: Bytes, txBytes: Bytes })).max(64),
  uptimeSec: z.number().nonnegative(),
  throttled: ThrottledSchema.nullable().optional(),
});
export type Stats = z.infer<typeof StatsSchema>;

// ---- GPIO ------------------------------------------------------------------------------------------
// A user sets a pin on `gpio/<bcm>/set`; the Pi answers on `gpio/<bcm>/state`: retained after every
// change (and every debounced input edge), so every dashboard shows the same; a refused set is answered
// there too, not retained, with the set's `id` and an `error`, and changes nothing.

export const GpioModeSchema = z.enum(['in', 'out', 'pwm']);
export type GpioMode = z.infer<typeof GpioModeSchema>;
export const GpioValueSchema = z.union([z.literal(0), z.literal(1)]);
export const PwmSchema = z.strictObject({ duty: z.number().min(0).max(1), freqHz: z.number().positive().max(100_000) });
export type Pwm = z.infer<typeof PwmSchema>;
export type GpioValue = z.infer<typeof GpioValueSchema>;

export const GpioSetSchema = z.strictObject({
  v: V,
  mode: GpioModeSchema.optional(),
  value: GpioValueSchema.optional(),
  pwm: PwmSchema.optional(),
  /** Chosen by the requester: a refusal on the state topic carries it. */
  id: RequestIdSchema.optional(),
  /** Stamped by the hub with the authenticated user; whatever a client sends here is overwritten. */
  by: z.string().max(128).optional(),
});
export type GpioSet = z.infer<typeof GpioSetSchema>;

export const GPIO_ERROR_CODES = [
  'invalid_request', // the set failed its schema
  'unknown_pin', // the pin is not in this Pi's gpio.json
  'mode_not_allowed', // the pin does not declare that mode (an input cannot be set)
  'out_of_range', // a duty or frequency outside what the pin declares
  'gpio_unavailable', // no usable GPIO driver on this Pi
  'driver_error', // the driver failed to apply it
] as const;
export const GpioErrorCodeSchema = z.enum(GPIO_ERROR_CODES);
export type GpioErrorCode = z.infer<typeof GpioErrorCodeSchema>;

/** Why a pin changed without a set: the Pi's safe states and inputs. */
export const GpioCauseSchema = z.enum(['set', 'initial', 'input', 'shutdown', 'removed', 'hold-expired', 'fail-safe']);
export type GpioCause = z.infer<typeof GpioCauseSchema>;

const GpioErrorSchema = z.strictObject({ code: GpioErrorCodeSchema, message: z.string().max(300) });

/** A pin's state: retained after a change; with `error`, a refused set (not retained). */
export const GpioPinStateSchema = z.strictObject({
  v: V,
  mode: GpioModeSchema,
  value: GpioValueSchema,
  pwm: PwmSchema.optional(),
  ts: Ts,
  /** Who set it (a user's name), when `cause` is `set`. */
  by: z.string().max(128).optional(),
  cause: GpioCauseSchema.optional(),
  /** The set this answers, and for a refused one (published not retained) why. */
  id: RequestIdSchema.optional(),
  error: GpioErrorSchema.optional(),
});

/** A refused set for a pin that has no state to show: not in gpio.json, or no GPIO driver (not retained). */
export const GpioRefusalSchema = z.strictObject({
  v: V,
  ts: Ts,
  id: RequestIdSchema.optional(),
  error: GpioErrorSchema,
});

export const GpioStateSchema = z.union([GpioPinStateSchema, GpioRefusalSchema]);
export type GpioState = z.infer<typeof GpioStateSchema>;
export type GpioPinState = z.infer<typeof GpioPinStateSchema>;

/** A pin as the manifest offers it: what a dashboard may show and send. */
export const ManifestPinSchema = z.strictObject({
  bcm: z.number().int().min(0).max(27),
  name: z.string().max(80),
  modes: z.array(GpioModeSchema).min(1).max(3),
  /** The frequencies a PWM set may use. */
  pwm: z.strictObject({ minHz: z.number().positive(), maxHz: z.number().positive() }).optional(),
  /** An output returns to its safe value unless a set renews it within this many seconds. */
  holdSec: z.number().positive().optional(),
  /** An output goes to its safe value when the hub link is down too long. */
  failSafe: z.boolean().optional(),
  /** The state when the manifest was published (live ones on the state topics). */
  state: z.strictObject({ mode: GpioModeSchema, value: GpioValueSchema, pwm: PwmSchema.optional() }).optional(),
});
export type ManifestPin = z.infer<typeof ManifestPinSchema>;

// ---- manifest: what this Pi allows ----------------------------------------------------------------

/** A command parameter: it may only fill one whole argv element (docs/ARCHITECTURE.md, "Command modules"). */
export const ParamSpecSchema = z.union([
  z.strictObject({ title: z.string().max(80).optional(), enum: z.array(z.string().min(1).max(256)).min(1).max(256) }),
  z.strictObject({
    title: z.string().max(80).optional(),
    type: z.literal('integer'),
    min: z.number().int().optional().describe('Negative values are accepted only when min is below 0 (a leading "-" is an option to many programs).'),
    max: z.number().int().optional(),
  }),
  z.strictObject({
    title: z.string().max(80).optional(),
    pattern: z.string().min(2).max(512)
      .refine((p) => p.startsWith('^') && p.endsWith('$') && !p.endsWith('\\$'), 'a pattern must be anchored: start with ^ and end with $')
      .refine((p) => { try { new RegExp(p); return true; } catch { return false; } }, 'not a valid regular expression'),
    maxLength: z.number().int().min(1).max(4096).optional(),
  }),
]);
export type ParamSpec = z.infer<typeof ParamSpecSchema>;

export const ManifestCommandSchema = z.strictObject({
  name: NameSchema,
  title: z.string().max(120),
  user: z.string().max(64),
  confirm: z.boolean(),
  timeoutSec: z.number().positive(),
  params: z.record(NameSchema, ParamSpecSchema),
  /**
   * The argv as the module file declares it; an element written exactly "{name}" is filled with that
   * parameter. Left out of every command when the manifest would otherwise pass its size limit.
   */
  run: z.array(z.string().max(4096)).min(1).max(256).optional(),
});
export const ManifestCheckSchema = z.strictObject({ name: NameSchema, title: z.string().max(120) });

export const ManifestModuleSchema = z.strictObject({
  id: NameSchema,
  title: z.string().max(120),
  kind: z.enum(['commands', 'doctor']),
  /**
   * The module file's name in the Pi's modules directory, and the SHA-256 of its bytes (what `sha256sum`
   * prints). Optional so that the hub still takes manifests of agents older than these fields.
   */
  file: z.string().max(255).optional(),
  sha256: Sha256Schema.optional(),
  commands: z.array(ManifestCommandSchema),
  checks: z.array(ManifestCheckSchema),
});

export const ManifestSchema = z.strictObject({
  v: V,
  ts: Ts,
  agentVersion: z.string().max(64),
  device: z.strictObject({ model: z.string().max(200).nullable(), hostname: z.string().max(255) }),
  modules: z.array(ManifestModuleSchema).max(256),
  /** Present when at least one doctor module is loaded: request `{module:"doctor", command:"run"}`. */
  doctor: z.boolean(),
  gpio: z.array(ManifestPinSchema).max(28),
});
export type Manifest = z.infer<typeof ManifestSchema>;
export type ManifestModule = z.infer<typeof ManifestModuleSchema>;

// ---- commands --------------------------------------------------------------------------------------

export const ParamValueSchema = z.union([z.string().max(MAX_PARAM_CHARS), z.number().int()]);

export const CmdRequestSchema = z.strictObject({
  v: V,
  id: RequestIdSchema,
  module: NameSchema,
  command: NameSchema,
  params: z.record(NameSchema, ParamValueSchema)
    .refine((p) => Object.keys(p).length <= MAX_PARAMS, `at most ${MAX_PARAMS} parameters`).optional(),
  /** Stamped by the hub with the authenticated user; whatever a client sends here is overwritten. */
  by: z.string().max(128).optional(),
  /**
   * The module file version (its SHA-256, from the manifest) the requester saw: the Pi refuses with
   * `module_changed` when the file in force is another, so a confirmed preview is what runs.
   */
  moduleSha256: Sha256Schema.optional(),
});
export type CmdRequest = z.infer<typeof CmdRequestSchema>;

export const ERROR_CODES = [
  'invalid_request', // the payload failed its schema
  'unknown_module', // no such module, or not loaded
  'unknown_command', // not in the module, or "enabled": false
  'invalid_params', // a parameter failed its declared type
  'busy', // the queue is full
  'duplicate_id', // the id was used before: by another request, or by this one whose result is no longer held; not run
  'spawn_failed', // the program could not be started
  'timeout', // killed after timeoutSec
  'shutting_down', // the agent is stopping
  'undeliverable', // the hub dropped the request: the Pi's queue at the hub is full, or its session expired
  'unknown_device', // the hub knows no Pi of this user with that serial
  'module_changed', // moduleSha256 is not the version of the module file in force; not run
] as const;
export const ErrorCodeSchema = z.enum(ERROR_CODES);
export type ErrorCode = z.infer<typeof ErrorCodeSchema>;

export const CmdResultSchema = z.strictObject({
  v: V,
  id: RequestIdSchema,
  ok: z.boolean(),
  exitCode: z.number().int().nullable(),
  signal: z.string().max(16).nullable(),
  stdout: z.string().max(MAX_OUTPUT_CHARS),
  stderr: z.string().max(MAX_OUTPUT_CHARS),
  truncated: z.boolean(),
  durationMs: z.number().nonnegative(),
  error: z.strictObject({ code: ErrorCodeSchema, message: z.string().max(1000) }).optional(),
});
export type CmdResult = z.infer<typeof CmdResultSchema>;

// ---- doctor ----------------------------------------------------------------------------------------

export const CheckStatusSchema = z.enum(['pass', 'warn', 'fail', 'skip']);
export type CheckStatus = z.infer<typeof CheckStatusSchema>;

export const CheckResultSchema = z.strictObject({
  module: NameSchema,
  name: NameSchema,
  title: z.string().max(120),
  status: CheckStatusSchema,
  detail: z.string().max(1000),
  value: z.number().nullable().optional(),
  durationMs: z.number().nonnegative(),
});
export type CheckResult = z.infer<typeof CheckResultSchema>;

export const DoctorReportSchema = z.strictObject({
  v: V,
  ts: Ts,
  ok: z.boolean(),
  checks: z.array(CheckResultSchema).max(256),
});
export type DoctorReport = z.infer<typeof DoctorReportSchema>;

// ---- HTTP API --------------------------------------------------------------------------------------

export const EnrollRequestSchema = z.strictObject({
  serial: SerialSchema,
  csr: z.string().min(64).max(16_384),
});
export type EnrollRequest = z.infer<typeof EnrollRequestSchema>;

export const RenewRequestSchema = z.strictObject({ csr: z.string().min(64).max(16_384) });
export type RenewRequest = z.infer<typeof RenewRequestSchema>;

export const IssuedCertificateSchema = z.strictObject({
  serial: SerialSchema,
  userId: z.string(),
  trustDomain: z.string(),
  /** PEM of the device certificate. */
  certificate: z.string(),
  /** PEM of the issuing CA then the root CA. */
  chain: z.string(),
  notAfter: z.string(),
});
export type IssuedCertificate = z.infer<typeof IssuedCertificateSchema>;

export const ApiErrorSchema = z.strictObject({ error: z.strictObject({ code: z.string(), message: z.string() }) });
export type ApiError = z.infer<typeof ApiErrorSchema>;
