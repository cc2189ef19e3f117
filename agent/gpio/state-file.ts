// <state-dir>/gpio.json: the daemon's pins and their last states, for `pi-agent gpio` (which has no
// link to the daemon). Informational: a file that cannot be written never stops the daemon.
import { readFileSync } from 'node:fs';
import * as z from 'zod';
import { writeFileAtomic } from '../../shared/fs.js';
import { GpioCauseSchema, GpioModeSchema, GpioValueSchema, ManifestPinSchema, PwmSchema } from '../../shared/schemas.js';

export const GpioStateFileSchema = z.object({
  v: z.literal(1),
  pid: z.number().int().positive(),
  /** The driver in use, or null with the reason there is none. */
  driver: z.string().nullable(),
  unavailable: z.string().optional(),
  /** False once the daemon has stopped (the pins are then at their safe levels). */
  running: z.boolean(),
  ts: z.number(),
  pins: z.array(ManifestPinSchema.omit({ state: true }).extend({
    state: z.object({
      mode: GpioModeSchema, value: GpioValueSchema, pwm: PwmSchema.optional(), ts: z.number(),
      cause: GpioCauseSchema.optional(), by: z.string().optional(), id: z.string().optional(),
    }),
  })),
});
export type GpioStateFile = z.infer<typeof GpioStateFileSchema>;

export function writeGpioStateFile(file: string, s: GpioStateFile): void {
  try { writeFileAtomic(file, `${JSON.stringify(s)}\n`, 0o644); } catch { /* informational */ }
}

export function readGpioStateFile(file: string): GpioStateFile | null {
  try {
    const r = GpioStateFileSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}
