// Writes modules/module.schema.json from the zod schema of a module file (agent/modules/schema.ts),
// so editors can check /etc/pi-agent/modules/*.json. Run by `npm run build`; the generated file is
// committed, and test/unit/scripts/gen-module-schema.test.ts fails when it is stale.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { moduleJsonSchemaText } from '../agent/modules/schema.js';

/** dist/scripts/gen-module-schema.js → <repo>/modules/module.schema.json */
export const MODULE_SCHEMA_FILE = fileURLToPath(new URL('../../modules/module.schema.json', import.meta.url));

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(MODULE_SCHEMA_FILE, moduleJsonSchemaText());
  process.stdout.write(`wrote ${MODULE_SCHEMA_FILE}\n`);
}
