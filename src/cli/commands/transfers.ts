import type { Command } from 'commander';
import type { TransferStatus } from '../../db/schema.js';
import { TRANSFER_STATUSES, TransferLog, type TransferRecord } from '../../transfers/transfer-log.js';
import { CliError, isoTime, printJson, printTable, withDatabase, type GlobalOptions } from '../context.js';

/** The stable JSON shape of a transfer (documented in docs/cli.md). */
export function transferJson(t: TransferRecord) {
  return {
    id: t.id,
    status: t.status,
    direction: t.direction,
    protocol: t.protocol,
    account: t.account,
    path: t.path,
    client: t.client_address,
    node: t.node_id,
    session: t.session_id,
    offset: t.start_offset,
    bytes: t.bytes,
    started: isoTime(t.started_at),
    ended: isoTime(t.ended_at),
    sha256: t.sha256,
    error: t.error,
  };
}

export function registerTransfers(program: Command): void {
  const transfers = program.command('transfers').description('the transfer log');
  transfers
    .command('list')
    .description('list transfers, newest first')
    .option('--account <name>', 'only this account')
    .option('--status <status>', `only this status (${TRANSFER_STATUSES.join(', ')})`)
    .option('--limit <n>', 'at most this many rows', '100')
    .option('--json', 'machine-readable output')
    .option('--config <file>', 'YAML configuration file')
    .action(async (options: GlobalOptions & { account?: string; status?: string; limit: string; json?: boolean }) => {
      if (options.status && !TRANSFER_STATUSES.includes(options.status as TransferStatus)) {
        throw new CliError(`unknown status "${options.status}": use one of ${TRANSFER_STATUSES.join(', ')}`);
      }
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new CliError('--limit must be a positive integer');
      await withDatabase(options, async ({ db }) => {
        const rows = await new TransferLog(db).list({
          account: options.account,
          status: options.status as TransferStatus | undefined,
          limit,
        });
        if (options.json) return printJson(rows.map(transferJson));
        printTable(
          ['ID', 'STATUS', 'DIRECTION', 'ACCOUNT', 'BYTES', 'STARTED', 'PATH', 'ERROR'],
          rows.map((t) => [
            String(t.id),
            t.status,
            t.direction,
            t.account,
            String(t.bytes),
            isoTime(t.started_at)!,
            t.path,
            t.error ?? '',
          ]),
        );
      });
    });

  transfers
    .command('show <id>')
    .description('show one transfer')
    .option('--json', 'machine-readable output')
    .option('--config <file>', 'YAML configuration file')
    .action(async (id: string, options: GlobalOptions & { json?: boolean }) => {
      if (!/^\d+$/.test(id)) throw new CliError(`invalid transfer id "${id}"`);
      await withDatabase(options, async ({ db }) => {
        const row = await new TransferLog(db).get(Number(id));
        if (!row) throw new CliError(`no transfer with id ${id}`);
        const t = transferJson(row);
        if (options.json) return printJson(t);
        const width = Math.max(...Object.keys(t).map((k) => k.length)) + 2;
        process.stdout.write(
          Object.entries(t)
            .map(([k, v]) => `${(k + ':').padEnd(width)}${v ?? '-'}`)
            .join('\n') + '\n',
        );
      });
    });
}
