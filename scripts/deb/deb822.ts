// debian/control and friends: paragraphs of "Field: value" lines, continuation lines starting with a
// space (deb822). Enough to read our own debian/control and write a binary package's DEBIAN/control.

export type Paragraph = Map<string, string>;

/** Paragraphs in order; a field's value keeps its continuation lines (joined with "\n"). */
export function parseDeb822(text: string): Paragraph[] {
  const paragraphs: Paragraph[] = [];
  let current: Paragraph | null = null;
  let last: string | null = null;
  for (const line of text.split('\n')) {
    if (line.trim() === '') { current = null; last = null; continue; }
    if (line.startsWith('#')) continue;
    if (/^[ \t]/.test(line)) {
      if (current === null || last === null) throw new Error(`continuation line without a field: ${JSON.stringify(line)}`);
      current.set(last, `${current.get(last)}\n${line}`);
      continue;
    }
    const m = /^([A-Za-z0-9][A-Za-z0-9-]*):(.*)$/.exec(line);
    if (!m) throw new Error(`not a field: ${JSON.stringify(line)}`);
    if (current === null) { current = new Map(); paragraphs.push(current); }
    last = m[1]!;
    current.set(last, m[2]!.trim());
  }
  return paragraphs;
}

/**
 * Replaces `${name:Var}` with its value; in a comma-separated list an empty substitution leaves no
 * empty item behind. An unknown variable is an error: it would reach the package as text.
 */
export function substitute(value: string, vars: Record<string, string>): string {
  const replaced = value.replace(/\$\{([A-Za-z0-9:-]+)\}/g, (_, name: string) => {
    const v = vars[name];
    if (v === undefined) throw new Error(`no value for \${${name}}`);
    return v;
  });
  return replaced.split(',').map((s) => s.trim()).filter((s) => s !== '').join(', ');
}

export interface BinaryFacts {
  version: string;
  architecture: string;
  installedSizeKiB: number;
  vars: Record<string, string>;
}

const RELATIONS = ['Pre-Depends', 'Depends', 'Recommends', 'Suggests', 'Conflicts', 'Breaks', 'Replaces', 'Provides'];

/** DEBIAN/control of one binary package of debian/control: its own fields, the source's defaults. */
export function binaryControl(controlText: string, name: string, facts: BinaryFacts): string {
  const [source, ...binaries] = parseDeb822(controlText);
  const bin = binaries.find((p) => p.get('Package') === name);
  if (!source || !bin) throw new Error(`debian/control has no package ${name}`);
  const pick = (f: string) => bin.get(f) ?? source.get(f);
  const fields: Array<[string, string | undefined]> = [
    ['Package', name],
    ['Version', facts.version],
    ['Architecture', facts.architecture],
    ['Maintainer', source.get('Maintainer')],
    ['Installed-Size', String(facts.installedSizeKiB)],
    ...RELATIONS.map((f): [string, string | undefined] => {
      const v = bin.get(f);
      return [f, v === undefined ? undefined : substitute(v.replace(/\n/g, ' '), facts.vars)];
    }),
    ['Section', pick('Section')],
    ['Priority', pick('Priority')],
    ['Homepage', pick('Homepage')],
    ['Description', bin.get('Description')],
  ];
  return fields.filter(([, v]) => v !== undefined && v !== '').map(([f, v]) => `${f}: ${v}`).join('\n') + '\n';
}

/** The version of debian/changelog's first entry: `pifleet (0.1.0) unstable; …`. */
export function changelogVersion(text: string): string {
  const m = /^\S+ \(([^)]+)\)/.exec(text);
  if (!m) throw new Error('debian/changelog: no version in its first line');
  return m[1]!;
}
