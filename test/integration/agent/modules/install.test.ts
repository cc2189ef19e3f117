import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { installDefaultModules, SHIPPED_MODULES_DIR } from '../../../../agent/modules/install.js';

const dir = mkdtempSync(join(tmpdir(), 'pifleet-install-'));
after(() => rmSync(dir, { recursive: true, force: true }));

it('installs the shipped modules once and never overwrites the owner\'s edits', async () => {
  const shipped = readdirSync(SHIPPED_MODULES_DIR).filter((n) => n.endsWith('.json')).sort();
  assert.ok(shipped.includes('core.json') && shipped.includes('doctor.json') && shipped.includes('module.schema.json'));
  const first = await installDefaultModules(dir);
  assert.deepEqual(first, { installed: shipped, kept: [] });
  const target = join(dir, 'modules');
  assert.equal(statSync(target).mode & 0o777, 0o755);
  assert.equal(readFileSync(join(target, 'core.json'), 'utf8'), readFileSync(join(SHIPPED_MODULES_DIR, 'core.json'), 'utf8'));
  writeFileSync(join(target, 'core.json'), '{"edited": true}');
  rmSync(join(target, 'doctor.json'));
  const second = await installDefaultModules(dir);
  assert.deepEqual(second, { installed: ['doctor.json'], kept: shipped.filter((n) => n !== 'doctor.json') });
  assert.equal(readFileSync(join(target, 'core.json'), 'utf8'), '{"edited": true}');
});
