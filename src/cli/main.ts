#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { AccountError } from '../accounts/account-store.js';
import { AdminUserError } from '../accounts/admin-users.js';
import { ConfigError } from '../config/load.js';
import { VERSION } from '../version.js';
import { registerAccount } from './commands/account.js';
import { registerAdmin } from './commands/admin.js';
import { registerBackup } from './commands/backup.js';
import { registerCapacity } from './commands/capacity.js';
import { registerCluster } from './commands/cluster.js';
import { registerDb } from './commands/db.js';
import { registerDefender } from './commands/defender.js';
import { registerEdge } from './commands/edge.js';
import { registerMonitor } from './commands/monitor.js';
import { registerPartner } from './commands/partner.js';
import { registerPki } from './commands/pki.js';
import { registerRoute } from './commands/route.js';
import { registerSchedule } from './commands/schedule.js';
import { registerSnapshot } from './commands/snapshot.js';
import { registerStart } from './commands/start.js';
import { registerTransfers } from './commands/transfers.js';
import { endQuietlyOnClosedPipe } from './closed-pipe.js';
import { CliError } from './context.js';

endQuietlyOnClosedPipe();

const program = new Command('ferry').description('Ferry: managed file transfer server').version(VERSION).showHelpAfterError().exitOverride();

registerStart(program);
registerEdge(program);
registerAccount(program);
registerTransfers(program);
registerCluster(program);
registerPartner(program);
registerRoute(program);
registerSchedule(program);
registerMonitor(program);
registerPki(program);
registerAdmin(program);
registerSnapshot(program);
registerCapacity(program);
registerBackup(program);
registerDb(program);
registerDefender(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version end here too, with exit code 0.
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else if (err instanceof CliError || err instanceof ConfigError || err instanceof AccountError || err instanceof AdminUserError) {
    process.stderr.write(`ferry: ${err.message}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`ferry: ${(err as Error).message ?? err}\n`);
    process.exitCode = 1;
  }
}
