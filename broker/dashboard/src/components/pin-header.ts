// The Raspberry Pi's 40-pin header (every model since the B+): what each physical pin is. Pure data.

export type HeaderPin =
  | { phys: number; kind: '3v3' | '5v' | 'gnd' }
  | { phys: number; kind: 'gpio'; bcm: number };

/** BCM number by physical pin; the others are power and ground. */
const BCM_AT: Record<number, number> = {
  3: 2, 5: 3, 7: 4, 8: 14, 10: 15, 11: 17, 12: 18, 13: 27, 15: 22, 16: 23, 18: 24, 19: 10, 21: 9, 22: 25,
  23: 11, 24: 8, 26: 7, 27: 0, 28: 1, 29: 5, 31: 6, 32: 12, 33: 13, 35: 19, 36: 16, 37: 26, 38: 20, 40: 21,
};
const POWER: Record<number, '3v3' | '5v'> = { 1: '3v3', 17: '3v3', 2: '5v', 4: '5v' };

export const HEADER: readonly HeaderPin[] = Array.from({ length: 40 }, (_, i) => {
  const phys = i + 1;
  const bcm = BCM_AT[phys];
  if (bcm !== undefined) return { phys, kind: 'gpio', bcm };
  return { phys, kind: POWER[phys] ?? 'gnd' };
});

export function physicalPinOf(bcm: number): number | null {
  return HEADER.find((p) => p.kind === 'gpio' && p.bcm === bcm)?.phys ?? null;
}

export function pinLabel(p: HeaderPin): string {
  switch (p.kind) {
    case '3v3': return '3V3';
    case '5v': return '5V';
    case 'gnd': return 'GND';
    case 'gpio': return `GPIO${p.bcm}`;
  }
}
