// File helpers both programs use.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * mkdir -p. Not `mkdirSync(dir, {recursive: true})`: on Node 20 that spins forever when a parent
 * refuses creation with ENOENT (e.g. anything under /proc), which turned a typo in --data-dir into a
 * hung CLI. Creates each missing level with `mode`.
 */
export function ensureDir(dir: string, mode = 0o755): void {
  const missing: string[] = [];
  let d = dir;
  while (!existsSync(d)) {
    missing.push(d);
    const parent = dirname(d);
    if (parent === d) break;
    d = parent;
  }
  for (const m of missing.reverse()) mkdirSync(m, { mode });
}

/** Writes a file atomically (temp file, fsync, rename) with `mode`. */
export function writeFileAtomic(file: string, data: string | Buffer, mode = 0o644): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
