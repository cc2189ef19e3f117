// The API key's format, for the hub that makes and checks keys and the agent that is given one:
// `pk_<id>_<secret>`, the id 12 of a–z and 0–9 (public: it names the key), the secret 64 hex digits.
import * as z from 'zod';

export const API_KEY_RE = /^pk_([a-z0-9]{12})_([0-9a-f]{64})$/;
/** An API key's id alone, or at the start of a whole key (what `apikey revoke` accepts). */
const KEY_ID_RE = /^(?:pk_)?([a-z0-9]{12})(?:_.*)?$/;

export const ApiKeySchema = z.string().regex(API_KEY_RE, 'an API key looks like pk_<12 letters/digits>_<64 hex digits>');

export function parseApiKey(key: string): { id: string; secret: string } | null {
  const m = API_KEY_RE.exec(key.trim());
  return m ? { id: m[1]!, secret: m[2]! } : null;
}

/** The key id in a key id or a whole key, or the text itself when it is neither (it then names no key). */
export function apiKeyIdOf(text: string): string {
  return KEY_ID_RE.exec(text.trim())?.[1] ?? text.trim();
}
