import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { moduleJsonSchemaText } from '../../../agent/modules/schema.js';
import { MODULE_SCHEMA_FILE } from '../../../scripts/gen-module-schema.js';

it('the committed modules/module.schema.json is what the generator writes (run npm run build to refresh it)', () => {
  assert.equal(readFileSync(MODULE_SCHEMA_FILE, 'utf8'), moduleJsonSchemaText());
});

it('the JSON Schema keeps what editors need: strict objects, argv as an array, the kinds', () => {
  const schema = JSON.parse(moduleJsonSchemaText()) as { oneOf: { additionalProperties: boolean; properties: Record<string, { const?: string }> }[] };
  assert.deepEqual(schema.oneOf.map((o) => o.properties.kind?.const), ['commands', 'doctor', 'gpio']);
  assert.ok(schema.oneOf.every((o) => o.additionalProperties === false && '$schema' in o.properties));
  const text = moduleJsonSchemaText();
  assert.match(text, /"run": \{\n\s+"type": "array"/);
});
