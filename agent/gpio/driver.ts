// What the GPIO service needs from a driver (sysfs, pigpio, sim). Numbers are BCM numbers everywhere:
// a driver that speaks another numbering (sysfs: the chip's base + BCM) translates inside itself.

export type Level = 0 | 1;
export type DriverName = 'sysfs' | 'pigpio' | 'sim';
export type Pull = 'up' | 'down' | 'none';

export interface FreqRange { minHz: number; maxHz: number }

/**
 * Where the software PWM worker (pwm-worker.ts) sends its edges: a sysfs value file it writes itself
 * (`<root>/gpio<base+bcm>/value`), or only its record of edges (the sim driver).
 */
export type PwmSink = { kind: 'sysfs'; root: string; base: number } | { kind: 'record' };

export interface InputWatch {
  pull: Pull;
  /** A raw (not yet debounced) level the driver saw; called on every change it notices. */
  onChange(level: Level): void;
}

export interface GpioDriver {
  readonly name: DriverName;
  /** Makes the pin an output (if it is not) driving `level`. */
  output(bcm: number, level: Level): Promise<void>;
  /** Makes the pin an input with its pull, watches it, and returns its level now. */
  input(bcm: number, watch: InputWatch): Promise<Level>;
  /** Hardware PWM on this pin, with the frequencies it can make; null: the agent's software PWM. */
  hardwarePwm(bcm: number): FreqRange | null;
  /** Hardware PWM (only where hardwarePwm() said so); returns the frequency actually made. */
  pwm(bcm: number, duty: number, freqHz: number): Promise<number>;
  /** For the software PWM: where its worker writes. */
  readonly pwmSink: PwmSink;
  /** Stops watching an input and lets the pin go; an output keeps its level (see README, "GPIO"). */
  release(bcm: number): Promise<void>;
  /** Releases everything (outputs keep their levels). */
  close(): Promise<void>;
}
