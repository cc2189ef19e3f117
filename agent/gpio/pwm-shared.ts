// The memory the software PWM's controller (soft-pwm.ts) and its worker (pwm-worker.ts) share: the
// worker sleeps in Atomics.wait until the next edge or until the controller bumps the generation, so a
// change reaches it at once without a message queue it could not read while it waits.

export const CHANNELS = 28; // BCM 0–27
export const CTRL = { GEN: 0, STOP: 1, ACK: 2, RECORDED: 3 } as const;

export interface PwmShared {
  /** Int32 × 4: generation, stop flag, generation the worker has applied, edges recorded so far. */
  ctrl: SharedArrayBuffer;
  /** Float64 × 2 per channel: duty, frequency. */
  params: SharedArrayBuffer;
  /** Int32 per channel: 1 while the worker drives it. */
  active: SharedArrayBuffer;
  /** The edge record, a ring: Float64 time (performance.now() of the worker) and Int32 bcm·2 + level. */
  times: SharedArrayBuffer;
  codes: SharedArrayBuffer;
}

export function allocShared(recordCapacity: number): PwmShared {
  return {
    ctrl: new SharedArrayBuffer(4 * 4),
    params: new SharedArrayBuffer(8 * 2 * CHANNELS),
    active: new SharedArrayBuffer(4 * CHANNELS),
    times: new SharedArrayBuffer(8 * recordCapacity),
    codes: new SharedArrayBuffer(4 * recordCapacity),
  };
}
