import type { Command } from 'commander';
import { DefenderError, DefenderHosts } from '../../accounts/defender.js';
import { defenderHostJson } from '../../views/defender-view.js';
import { CliError, printJson, printTable, withDatabase, type GlobalOptions } from '../context.js';

/** `ferry defender`: the addresses banned for failed logins, cluster-wide, and lifting a ban. */
export function registerDefender(program: Command): void {
  const defender = program.command('defender').description('client addresses banned (or watched) for failed logins, on every node');

  defender
    .command('list')
    .description('banned addresses, and addresses with failures in the current window')
    .option('--json', 'machine-readable output')
    .option('--config <file>', 'YAML configuration file')
    .action(async (options: GlobalOptions & { json?: boolean }) => {
      await withDatabase(options, async ({ db }, config) => {
        const hosts = (await new DefenderHosts(db).list(config.defender.window)).map((h) => defenderHostJson(h));
        if (options.json) return printJson(hosts);
        printTable(
          ['ADDRESS', 'STATE', 'BANNED UNTIL', 'FAILURES', 'BANS', 'LAST FAILURE', 'LAST ACCOUNT'],
          hosts.map((h) => [h.address, h.state, h.bannedUntil ?? '-', String(h.recentFailures), String(h.bans), h.lastFailure ?? '-', h.lastAccount ?? '-']),
        );
      });
    });

  defender
    .command('unban')
    .argument('<address>', 'IPv4 or IPv6 address')
    .description('lift the ban of an address and forget its failures, on every node (within a second)')
    .option('--config <file>', 'YAML configuration file')
    .action(async (address: string, options: GlobalOptions) => {
      await withDatabase(options, async ({ db }) => {
        let removed: string | null;
        try {
          removed = await new DefenderHosts(db).unban(address);
        } catch (err) {
          if (err instanceof DefenderError) throw new CliError(err.message);
          throw err;
        }
        if (!removed) throw new CliError(`the defender has no record of ${address.trim()}: it is not banned`);
        process.stdout.write(`address ${removed} unbanned\n`);
      });
    });
}
