#!/usr/bin/env node
// pi-hub: the control plane's command line (docs/ARCHITECTURE.md, "Command lines"). Each command lives
// with its group in cli/; `pi-hub GROUP [COMMAND] --help` prints its own usage.
import { dispatch } from '../shared/commands.js';
import { runMain } from '../shared/main.js';
import { VERSION } from '../shared/version.js';
import { apikeyCommands } from './cli/apikeys.js';
import { caCommands } from './cli/ca.js';
import { certCommands } from './cli/certs.js';
import { out } from './cli/common.js';
import { serveCommands } from './cli/serve.js';
import { userCommands } from './cli/users.js';

const COMMANDS = [...serveCommands, ...userCommands, ...apikeyCommands, ...caCommands, ...certCommands];

await runMain('pi-hub', async (argv) => {
  const args = argv.filter((a) => a !== '--debug');
  if (args[0] === '--version' || args[0] === 'version') { out(VERSION); return 0; }
  return dispatch('pi-hub', COMMANDS, args, {
    header: `pi-hub ${VERSION} — the pifleet control plane\n`,
    footer: 'Every command takes --data-dir DIR (default $PI_HUB_DATA_DIR or /var/lib/pi-hub) and --help.',
  });
});
