// Which filesystems hold storage a Pi owner cares about (stats and the doctor's disk check agree).
const PSEUDO = new Set([
  'proc', 'sysfs', 'devtmpfs', 'devpts', 'tmpfs', 'ramfs', 'cgroup', 'cgroup2', 'securityfs', 'pstore', 'debugfs',
  'tracefs', 'configfs', 'fusectl', 'mqueue', 'hugetlbfs', 'bpf', 'autofs', 'binfmt_misc', 'rpc_pipefs', 'nsfs',
  'efivarfs', 'squashfs', 'iso9660', 'overlay',
]);

/** Kernel and memory filesystems, read-only images, overlays and FUSE helpers: not storage. */
export function isPseudoFilesystem(type: string): boolean {
  return PSEUDO.has(type) || type.startsWith('fuse.');
}
