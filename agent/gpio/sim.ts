// The sim driver: no hardware (`pi-agent run --sim`, the demo, tests). Outputs are remembered and
// recorded; inputs are driven from outside through files in <state-dir>/gpio-sim/: writing
// `<bcm>.in` holding levels such as "1 0 1 0 1" plays them on input <bcm> one millisecond apart (a
// bouncing contact, then its final level), and the file is consumed. Write it under another name and
// rename it into place, so the driver never reads half a file.
import { type FSWatcher, readFileSync, readdirSync, unlinkSync, watch } from 'node:fs';
import { join } from 'node:path';
import { ensureDir } from '../../shared/fs.js';
import type { Logger } from '../../shared/log.js';
import type { FreqRange, GpioDriver, InputWatch, Level, PwmSink } from './driver.js';

const INPUT_FILE_RE = /^([0-9]|1[0-9]|2[0-7])\.in$/;

export class SimDriver implements GpioDriver {
  readonly name = 'sim' as const;
  readonly pwmSink: PwmSink = { kind: 'record' };
  /** Every level an output was driven to, in order. */
  readonly writes: Array<{ bcm: number; level: Level }> = [];
  private readonly levels = new Map<number, Level>();
  private readonly inputs = new Map<number, InputWatch>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private watcher: FSWatcher | null = null;

  constructor(private readonly dir: string | null, private readonly log?: Logger) {}

  /** Starts watching the input directory (when given one). */
  open(): void {
    if (!this.dir) return;
    ensureDir(this.dir, 0o700);
    this.watcher = watch(this.dir, { persistent: false }, () => this.scan());
    this.watcher.on('error', (err) => this.log?.warn('sim GPIO: stopped watching for inputs', { error: err.message }));
    this.scan();
  }

  async output(bcm: number, level: Level): Promise<void> {
    this.inputs.delete(bcm);
    this.levels.set(bcm, level);
    this.writes.push({ bcm, level });
  }

  async input(bcm: number, watch: InputWatch): Promise<Level> {
    this.inputs.set(bcm, watch);
    // A floating sim pin reads as its pull would make it.
    if (!this.levels.has(bcm)) this.levels.set(bcm, watch.pull === 'up' ? 1 : 0);
    return this.levels.get(bcm)!;
  }

  hardwarePwm(): FreqRange | null {
    return null;
  }

  pwm(): Promise<number> {
    return Promise.reject(new Error('the sim driver has no hardware PWM'));
  }

  level(bcm: number): Level | undefined {
    return this.levels.get(bcm);
  }

  /** Plays levels on an input, `stepMs` apart (the files in the input directory come here). */
  play(bcm: number, levels: readonly Level[], stepMs = 1): void {
    levels.forEach((level, i) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.levels.set(bcm, level);
        this.inputs.get(bcm)?.onChange(level);
      }, i * stepMs);
      this.timers.add(t);
    });
  }

  async release(bcm: number): Promise<void> {
    this.inputs.delete(bcm);
  }

  async close(): Promise<void> {
    this.watcher?.close();
    this.watcher = null;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.inputs.clear();
  }

  private scan(): void {
    if (!this.dir) return;
    let names: string[];
    try { names = readdirSync(this.dir); } catch { return; }
    for (const name of names) {
      const m = INPUT_FILE_RE.exec(name);
      if (!m) continue;
      const file = join(this.dir, name);
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
        unlinkSync(file);
      } catch {
        continue; // taken by an earlier event
      }
      const levels = text.trim().split(/\s+/).filter((w) => w === '0' || w === '1').map((w) => Number(w) as Level);
      this.log?.debug('sim GPIO: playing an input', { bcm: m[1], levels: levels.join(' ') });
      this.play(Number(m[1]), levels);
    }
  }
}
