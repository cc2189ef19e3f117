import { fileURLToPath } from 'node:url';

/** dist/scripts/deb → the repository. */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
