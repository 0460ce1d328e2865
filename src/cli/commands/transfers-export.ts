import fs from 'node:fs';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { TransferLog } from '../../transfers/transfer-log.js';
import { CliError, withDatabase, type GlobalOptions } from '../context.js';
import { csvRecord } from '../csv.js';
import { parseSince } from '../../config/since.js';
import { transferJson } from '../../views/transfer-view.js';

type Format = 'csv' | 'json';

/** The exported columns, in this order: the fields of a transfer's JSON (docs/cli.md). Scripts rely on them. */
export const EXPORT_COLUMNS: Array<keyof ReturnType<typeof transferJson>> = [
  'id',
  'status',
  'direction',
  'protocol',
  'account',
  'path',
  'client',
  'node',
  'session',
  'offset',
  'bytes',
  'started',
  'ended',
  'sha256',
  'error',
  'attempts',
  'destination',
  'whole',
];

async function write(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await new Promise((resolve) => out.once('drain', resolve));
}

async function exportTo(out: Writable, log: TransferLog, since: number, format: Format): Promise<number> {
  let count = 0;
  await write(out, format === 'csv' ? csvRecord(EXPORT_COLUMNS) : '[');
  for await (const page of log.pages({ since })) {
    for (const row of page) {
      const t = transferJson(row);
      await write(
        out,
        format === 'csv'
          ? csvRecord(EXPORT_COLUMNS.map((c) => (typeof t[c] === 'boolean' ? String(t[c]) : t[c])))
          : `${count > 0 ? ',' : ''}\n${JSON.stringify(t)}`,
      );
      count++;
    }
  }
  if (format === 'json') await write(out, count > 0 ? '\n]\n' : ']\n');
  return count;
}

/** Writes next to the target and renames it into place once complete: an archive file is whole or absent. */
async function exportToFile(file: string, work: (out: Writable) => Promise<number>): Promise<number> {
  if (fs.existsSync(file)) throw new CliError(`${file} already exists: choose another --output`);
  const partial = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.partial`);
  const out = fs.createWriteStream(partial, { flags: 'wx' });
  try {
    await new Promise((resolve, reject) => out.once('open', resolve).once('error', reject));
    const count = await work(out);
    out.end();
    await finished(out);
    const fd = fs.openSync(partial, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(partial, file);
    return count;
  } catch (err) {
    out.destroy();
    fs.rmSync(partial, { force: true });
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new CliError(`cannot write ${file}: its directory does not exist`);
    throw err;
  }
}

export function registerTransfersExport(transfers: Command): void {
  transfers
    .command('export')
    .description('archive the transfer log as CSV or JSON, oldest first')
    .option('--since <duration|time>', 'only transfers started since, e.g. 24h, 30d or 2026-11-01 (default: all)')
    .option('--format <format>', 'csv or json', 'csv')
    .option('--output <file>', 'write to this new file instead of standard output')
    .option('--config <file>', 'YAML configuration file')
    .action(async (options: GlobalOptions & { since?: string; format: string; output?: string }) => {
      if (options.format !== 'csv' && options.format !== 'json') throw new CliError(`unknown --format "${options.format}": use csv or json`);
      const format: Format = options.format;
      const since = options.since ? parseSince(options.since) : 0;
      await withDatabase(options, async ({ db }) => {
        const log = new TransferLog(db);
        if (!options.output) {
          await exportTo(process.stdout, log, since, format);
          return;
        }
        const count = await exportToFile(options.output, (out) => exportTo(out, log, since, format));
        process.stderr.write(`exported ${count} transfers to ${options.output}\n`);
      });
    });
}
