// devices/<serial>/manifest (ManifestSchema, shared/schemas.ts), assembled from what each part
// declares: the daemon gives the device; the module registry the modules and whether the doctor has
// anything to run; GPIO its pins.
import { type Manifest, ManifestSchema } from '../shared/schemas.js';
import { MAX_PAYLOAD_BYTES } from '../shared/limits.js';
import { VERSION } from '../shared/version.js';

/** The fields of the manifest a part may declare; each is declared by exactly one part. */
export type ManifestContribution = Partial<Omit<Manifest, 'v' | 'ts' | 'agentVersion' | 'device'>>;

export interface ManifestSource { readonly name: string; manifest?(): ManifestContribution }

/** The manifest of these parts; a field declared twice, or by none, is a programming error (thrown). */
export function assembleManifest(device: Manifest['device'], parts: readonly ManifestSource[], ts = Date.now()): Manifest {
  const fields: ManifestContribution = {};
  const declaredBy = new Map<string, string>();
  for (const part of parts) {
    const c = part.manifest?.() ?? {};
    for (const key of Object.keys(c)) {
      const other = declaredBy.get(key);
      if (other) throw new Error(`the manifest's ${key} is declared by both ${other} and ${part.name}`);
      declaredBy.set(key, part.name);
    }
    Object.assign(fields, c);
  }
  const manifest = ManifestSchema.parse({ v: 1, ts, agentVersion: VERSION, device, ...fields });
  return fitted(manifest);
}

/**
 * The manifest within the hub's size limit: the commands' argv are what may make it big (a module file
 * may hold 1 MiB), so past the limit they are left out of every command, and the dashboard says it
 * cannot preview them. What remains is bounded by the module count and the names.
 */
export function fitted(manifest: Manifest, limit = MAX_PAYLOAD_BYTES.manifest): Manifest {
  if (Buffer.byteLength(JSON.stringify(manifest)) <= limit) return manifest;
  return {
    ...manifest,
    modules: manifest.modules.map((m) => ({ ...m, commands: m.commands.map(({ run: _run, ...c }) => c) })),
  };
}
