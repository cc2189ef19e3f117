// Parsing what arrives from outside (MQTT payloads, HTTP bodies) without exceptions.
import type { z } from 'zod';

/** JSON.parse that answers null instead of throwing. */
export function parseJson(raw: Buffer | string): unknown {
  try {
    return JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    return null;
  }
}

/** JSON, then the schema: the value, or null when either fails. */
export function parseValid<T extends z.ZodType>(raw: Buffer | string, schema: T): z.infer<T> | null {
  const r = schema.safeParse(parseJson(raw));
  return r.success ? r.data : null;
}
