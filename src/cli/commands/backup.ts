import path from 'node:path';
import type { Command } from 'commander';
import { createBackup, restoreBackup } from '../../backup/backup.js';
import { configFrom, printJson, type GlobalOptions } from '../context.js';

// A BackupError (a refusal) reaches main.ts, which prints it as `ferry: …` with exit code 1.

export function registerBackup(program: Command): void {
  program
    .command('backup <dir>')
    .description('back up the database into a new directory while the cluster serves (not the files in storage)')
    .option('--json', 'print the manifest')
    .option('--config <file>', 'YAML configuration file')
    .action(async (dir: string, options: GlobalOptions & { json?: boolean }) => {
      const config = configFrom(options);
      const manifest = await createBackup(config.database.url, path.resolve(dir));
      if (options.json) return printJson(manifest);
      const [file] = manifest.files;
      process.stdout.write(
        `backed up the ${manifest.database.kind} database (schema ${manifest.database.migration}) to ${dir}\n` +
          `${file!.name}: ${file!.bytes} bytes, SHA-256 ${file!.sha256}\n`,
      );
    });

  program
    .command('restore <dir>')
    .description('rebuild an empty database (database.url) from a backup made by ferry backup')
    .option('--config <file>', 'YAML configuration file')
    .action(async (dir: string, options: GlobalOptions) => {
      const config = configFrom(options);
      const result = await restoreBackup(path.resolve(dir), config.database.url);
      process.stdout.write(
        `restored the backup of ${result.manifest.created} (Ferry ${result.manifest.ferryVersion}): ${result.accounts} accounts, ${result.transfers} transfers\n`,
      );
    });
}
