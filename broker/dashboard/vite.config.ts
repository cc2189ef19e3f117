// Builds broker/dashboard into dist/dashboard, which pi-hub serves (broker/api/static.ts): index.html
// and hashed files under assets/. Nothing inline (the page's CSP allows no inline script or style) and
// nothing from another origin. Paths are relative to the repository root, where npm runs this.
import { defineConfig } from 'vite';

export default defineConfig({
  root: 'broker/dashboard',
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: '../../dist/dashboard',
    emptyOutDir: true,
    assetsDir: 'assets',
    // No data: URLs for fonts or scripts, and every asset a file the hub serves with its hash.
    assetsInlineLimit: 0,
    // Only modern browsers load the page: no modulepreload polyfill.
    modulePreload: { polyfill: false },
    target: 'es2022',
    sourcemap: false,
  },
});
