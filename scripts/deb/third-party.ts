// The npm packages a binary package carries, as machine-readable copyright paragraphs
// (/usr/share/doc/<package>/copyright): each with its copyright lines and its license's text, read from
// the package itself, so the list follows the dependencies without anyone keeping it.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export interface LicensedPackage { name: string; version: string; dir: string }

/** A license text as a deb822 continuation: each line indented, empty lines as " .". */
const indent = (text: string) => text.replace(/\r/g, '').trim().split('\n').map((l) => (l.trim() === '' ? ' .' : ` ${l.trimEnd()}`)).join('\n');

function licenseText(dir: string): string | null {
  const name = readdirSync(dir).find((n) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(n));
  return name === undefined ? null : readFileSync(join(dir, name), 'utf8');
}

/** Licenses Debian keeps in /usr/share/common-licenses: named there, never copied (Debian policy 12.5). */
const COMMON: Record<string, string> = {
  'Apache-2.0': 'Apache-2.0', 'MPL-2.0': 'MPL-2.0', 'CC0-1.0': 'CC0-1.0',
  'GPL-2.0': 'GPL-2', 'GPL-3.0': 'GPL-3', 'LGPL-2.1': 'LGPL-2.1', 'LGPL-3.0': 'LGPL-3',
};

export function thirdPartyParagraphs(packages: LicensedPackage[]): string {
  return packages.map((p) => {
    const pkg = JSON.parse(readFileSync(join(p.dir, 'package.json'), 'utf8')) as { license?: string; author?: string | { name?: string } };
    const text = licenseText(p.dir);
    const holders = (text ?? '').split('\n').map((l) => l.trim()).filter((l) => /^(copyright\b|\(c\)|©)/i.test(l) && !/notice/i.test(l));
    const author = typeof pkg.author === 'string' ? pkg.author : pkg.author?.name;
    const copyright = holders.length > 0 ? holders.map((h) => h.replace(/^copyright\s*(\(c\)|©)?\s*/i, '')).join('\n ') : (author ?? `the ${p.name} authors`);
    const license = (pkg.license ?? 'unknown').replace(/[()]/g, '').replace(/\s+OR\s+/g, ' or ').replace(/\s+AND\s+/g, ' and ');
    const common = COMMON[license.replace(/-only$|\+$|-or-later$/, '')];
    const body = common ? `On Debian systems the full text of this license is in /usr/share/common-licenses/${common}.` : text;
    return [
      `Files: node_modules/${p.name}/*`,
      `Copyright: ${copyright}`,
      `Comment: ${p.name} ${p.version}`,
      `License: ${license}${body === null ? '' : `\n${indent(body)}`}`,
    ].join('\n');
  }).join('\n\n');
}
