// A package's file tree while it is put together: files with explicit modes (the umask must not
// decide what lands in /etc or /usr), md5sums, the installed size, and which machine an ELF file is for.
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, copyFileSync, lstatSync, mkdirSync, openSync, readSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

export class Tree {
  constructor(readonly root: string) {}

  /** A directory (and its missing parents) with `mode`; normalizeModes() settles the rest. */
  dir(path: string, mode = 0o755): string {
    const full = join(this.root, path);
    mkdirSync(full, { recursive: true });
    chmodSync(full, mode);
    return full;
  }

  /** A file from text or a Buffer, or a copy of `from`. */
  file(path: string, content: string | Buffer | { from: string }, mode = 0o644): string {
    const full = join(this.root, path);
    this.dir(dirname(path));
    if (typeof content === 'string' || Buffer.isBuffer(content)) writeFileSync(full, content);
    else copyFileSync(content.from, full);
    chmodSync(full, mode);
    return full;
  }

  symlink(path: string, target: string): void {
    this.dir(dirname(path));
    symlinkSync(target, join(this.root, path));
  }
}

/**
 * Modes as Debian expects them, whatever the umask of the build or of `npm ci` was: directories 0755,
 * scripts (a `#!` line) 0755, every other file 0644 — shared objects (.node) included —, but for the
 * paths given (relative, e.g. etc/pi-agent).
 */
export function normalizeModes(root: string, exceptions: Record<string, number> = {}): void {
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      const rel = relative(root, full);
      const st = lstatSync(full);
      if (st.isSymbolicLink()) continue;
      if (st.isDirectory()) { chmodSync(full, exceptions[rel] ?? 0o755); walk(full); } else chmodSync(full, exceptions[rel] ?? (isScript(full) ? 0o755 : 0o644));
    }
  };
  chmodSync(root, 0o755);
  walk(root);
}

function isScript(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(2);
    return readSync(fd, head, 0, 2, 0) === 2 && head.toString('latin1') === '#!';
  } finally {
    closeSync(fd);
  }
}

/** Every regular file under `dir` (symlinks not followed), as paths relative to it, sorted. */
export function filesUnder(dir: string, skip: (rel: string) => boolean = () => false): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const full = join(d, name);
      const rel = relative(dir, full);
      if (skip(rel)) continue;
      const st = lstatSync(full);
      if (st.isDirectory()) walk(full);
      else if (st.isFile()) out.push(rel);
    }
  };
  walk(dir);
  return out;
}

/** DEBIAN/md5sums: every file the package installs. */
export function md5sums(root: string): string {
  return filesUnder(root, (rel) => rel === 'DEBIAN')
    .map((rel) => `${createHash('md5').update(readFileSync(join(root, rel))).digest('hex')}  ${rel}`)
    .join('\n') + '\n';
}

/** Installed-Size in KiB, as dpkg-gencontrol counts it: each file rounded up to a KiB, each other entry 1. */
export function installedSizeKiB(root: string): number {
  let kib = 0;
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name);
      if (relative(root, full) === 'DEBIAN') continue;
      const st = lstatSync(full);
      if (st.isDirectory()) { kib += 1; walk(full); } else if (st.isFile()) kib += Math.ceil(st.size / 1024); else kib += 1;
    }
  };
  walk(root);
  return kib;
}

/** Debian architecture → ELF e_machine. */
export const ELF_MACHINES: Record<string, number> = { amd64: 62, arm64: 183, armhf: 40, armel: 40, i386: 3 };

/** The e_machine of an ELF file, or null when it is not one. */
export function elfMachine(file: string): number | null {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(20);
    if (readSync(fd, head, 0, 20, 0) < 20 || head.readUInt32BE(0) !== 0x7f454c46) return null;
    return head[5] === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18);
  } finally {
    closeSync(fd);
  }
}
