import type { Command } from 'commander';
import { parseDuration } from '../../config/duration.js';
import { MonitorStore } from '../../monitor/monitors.js';
import { CliError, withDatabase, type GlobalOptions } from '../context.js';
import { monitorJson } from '../../views/catalog-views.js';
import { registerCatalogCommands } from './catalog.js';

export function registerMonitor(program: Command): void {
  const monitor = program.command('monitor').description("folder monitors: files that appear in an account's folder trigger its routes --on monitor");

  monitor
    .command('add <name>')
    .description('watch a folder (polled on the primary; works on NFS)')
    .requiredOption('--account <name>', 'whose home the folder is in')
    .option('--dir <dir>', 'the folder inside the home (its subfolders are not watched)', '/')
    .option('--path <glob>', 'which files, by name', '*')
    .option('--stable <duration>', 'how long size and mtime must stay unchanged before a file is taken', '5s')
    .option('--config <file>', 'YAML configuration file')
    .action(async (name: string, options: GlobalOptions & { account: string; dir: string; path: string; stable: string }) => {
      let stableMs: number;
      try {
        stableMs = parseDuration(options.stable);
      } catch (err) {
        throw new CliError(`--stable: ${(err as Error).message}`);
      }
      const dir = options.dir.startsWith('/') ? options.dir : `/${options.dir}`;
      await withDatabase(options, async ({ db }) => {
        const row = await new MonitorStore(db).add({ name, account: options.account, dir, glob: options.path, stableMs });
        process.stdout.write(`monitor ${row.name} added: ${row.account}${row.dir === '/' ? '' : row.dir}/${row.path_glob}\n`);
      });
    });

  registerCatalogCommands(monitor, {
    noun: 'monitor',
    store: (db) => new MonitorStore(db),
    json: monitorJson,
    table: {
      header: ['NAME', 'ACCOUNT', 'DIR', 'PATH', 'STABLE'],
      cells: (r) => [r.name, r.account, r.dir, r.path_glob, `${Number(r.stable_ms) / 1000}s`],
    },
    removeHelp: 'stop watching a folder',
  });
}
