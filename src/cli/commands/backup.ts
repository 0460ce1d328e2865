import path from 'node:path';
import type { Command } from 'commander';
import { createBackup, restoreBackup } from '../../backup/backup.js';
import { configFrom, printJson, type GlobalOptions } from '../context.js';

// A BackupError (a refusal) reaches main.ts, which prints it as `ferry: …` with exit code 1.

export function registerBackup(program: Command): void {
  program
    .command('backup <dir>')
    .description('back up the database into a new directory while the cluster serves')
    .option('--with-files', 'copy the files in storage.dir too (not partial uploads)')
    .option('--json', 'print the manifest')
    .option('--config <file>', 'YAML configuration file')
    .action(async (dir: string, options: GlobalOptions & { json?: boolean; withFiles?: boolean }) => {
      const config = configFrom(options);
      const manifest = await createBackup(config.database.url, path.resolve(dir), { storageDir: options.withFiles ? config.storage.dir : undefined });
      if (options.json) return printJson(manifest);
      const [file] = manifest.files;
      const storage = manifest.storage ? `files of ${manifest.storage.dir}: ${manifest.storage.files} (${manifest.storage.bytes} bytes)\n` : '';
      process.stdout.write(
        `backed up the ${manifest.database.kind} database (schema ${manifest.database.migration}) to ${dir}\n` +
          `${file!.name}: ${file!.bytes} bytes, SHA-256 ${file!.sha256}\n${storage}`,
      );
    });

  program
    .command('restore <dir>')
    .description('rebuild an empty database (database.url) from a backup made by ferry backup')
    .option('--with-files', 'copy the backed-up files into storage.dir too (it must be empty)')
    .option('--config <file>', 'YAML configuration file')
    .action(async (dir: string, options: GlobalOptions & { withFiles?: boolean }) => {
      const config = configFrom(options);
      const result = await restoreBackup(path.resolve(dir), config.database.url, { storageDir: options.withFiles ? config.storage.dir : undefined });
      const files = result.files === null ? '' : `, ${result.files} files`;
      process.stdout.write(
        `restored the backup of ${result.manifest.created} (Ferry ${result.manifest.ferryVersion}): ${result.accounts} accounts, ${result.transfers} transfers${files}\n`,
      );
    });
}
