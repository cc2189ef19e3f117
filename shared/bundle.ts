// What the packaged agent knows from its build: scripts/deb/bundle-agent.ts replaces PIFLEET_BUNDLE with
// these values through esbuild's `define`. Run from dist/ (tests, the demo, the hub package) there is
// no such global and each reader falls back to the files beside the code.
declare const PIFLEET_BUNDLE: BundleFacts | undefined;

export interface BundleFacts {
  /** package.json's version: the bundle has no package.json beside it. */
  version: string;
  /**
   * Where the package keeps the pristine module files, relative to the bundle's own file
   * (/usr/lib/pi-agent/pi-agent.mjs → ../../share/pi-agent/modules/): right wherever the package's tree
   * is unpacked.
   */
  shippedModules: string;
  /** The software PWM's worker thread, bundled into a file of its own beside the agent's: `./pwm-worker.mjs`. */
  pwmWorker: string;
}

export const BUNDLE: BundleFacts | undefined = typeof PIFLEET_BUNDLE === 'undefined' ? undefined : PIFLEET_BUNDLE;
