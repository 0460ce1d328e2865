import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { exportSnapshot, importSnapshot, SNAPSHOT_FORMATS, SnapshotError, type ImportReport, type SnapshotFormat } from '../../snapshot/index.js';
import { CliError, printJson, readStdin, withDatabase, type GlobalOptions } from '../context.js';

/** Replaces FILE in one step (temp name + rename), readable by its owner only: a snapshot holds password hashes. */
function writePrivateFile(file: string, text: string): void {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(temp, text, { mode: 0o600 });
    fs.renameSync(temp, file);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw new CliError(`cannot write ${file}: ${(err as Error).message}`);
  }
}

function readSnapshotFile(file: string): Promise<string> | string {
  if (file === '-') return readStdin();
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

function printReport(report: ImportReport): void {
  const lines = report.changes.map(
    (c) => `${report.dryRun ? `would ${c.action}` : `${c.action}d`} ${c.kind} ${c.name}${c.fields ? ` (${c.fields.join(', ')})` : ''}`,
  );
  const summary = `${report.created} created, ${report.updated} updated, ${report.removed} removed, ${report.unchanged} unchanged`;
  lines.push(report.dryRun ? `dry run: ${summary}; nothing was changed` : `import: ${summary}`);
  process.stdout.write(lines.join('\n') + '\n');
}

export function registerSnapshot(program: Command): void {
  program
    .command('export')
    .description('write the configuration snapshot: accounts, partners, routes, schedules, monitors')
    .option('--format <format>', `${SNAPSHOT_FORMATS.join(' or ')}`, 'xml')
    .option('--output <file>', 'write to FILE (mode 0600) instead of standard output')
    .option('--with-secrets', "include partners' passwords, private keys, header values and URL query strings")
    .option('--with-host-keys', "include the cluster's SSH host keys (private keys)")
    .option('--config <file>', 'YAML configuration file')
    .action(async (options: GlobalOptions & { format: string; output?: string; withSecrets?: boolean; withHostKeys?: boolean }) => {
      if (!SNAPSHOT_FORMATS.includes(options.format as SnapshotFormat)) {
        throw new CliError(`--format must be ${SNAPSHOT_FORMATS.join(' or ')} (got "${options.format}")`);
      }
      const text = await withDatabase(options, ({ db }) =>
        exportSnapshot(db, options.format as SnapshotFormat, { withSecrets: options.withSecrets, withHostKeys: options.withHostKeys }),
      );
      if (options.output) writePrivateFile(options.output, text);
      else process.stdout.write(text);
    });

  program
    .command('import <file>')
    .description('apply a configuration snapshot (XML or JSON; - reads standard input): all of it or, on any error, nothing')
    .option('--dry-run', 'report what would change and change nothing')
    .option('--prune', 'also remove accounts, partners, routes, schedules and monitors the snapshot does not have')
    .option('--json', 'machine-readable report')
    .option('--config <file>', 'YAML configuration file')
    .action(async (file: string, options: GlobalOptions & { dryRun?: boolean; prune?: boolean; json?: boolean }) => {
      const text = await readSnapshotFile(file);
      const report = await withDatabase(options, async ({ db }) => {
        try {
          return await importSnapshot(db, text, { dryRun: options.dryRun, prune: options.prune });
        } catch (err) {
          if (err instanceof SnapshotError) throw new CliError(`${file === '-' ? 'standard input' : file}: ${err.message}`);
          throw err;
        }
      });
      if (options.json) printJson(report);
      else printReport(report);
    });
}
