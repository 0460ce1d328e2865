import type { Command } from 'commander';
import type { TransferStatus } from '../../db/schema.js';
import { TRANSFER_STATUSES, TransferLog } from '../../transfers/transfer-log.js';
import { deliveryHistory, resubmitDelivery, ResubmitError } from '../../routing/resubmit.js';
import { attemptJson, transferJson } from '../../views/transfer-view.js';
import { printRecord } from './print-record.js';
import { registerTransfersExport } from './transfers-export.js';
import { CliError, isoTime, printJson, printTable, withDatabase, type GlobalOptions } from '../context.js';

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
          ['ID', 'STATUS', 'DIRECTION', 'ACCOUNT', 'BYTES', 'ATTEMPTS', 'STARTED', 'PATH', 'DESTINATION', 'ERROR'],
          rows.map((t) => [
            String(t.id),
            t.status,
            t.direction,
            t.account,
            String(t.bytes),
            t.direction === 'delivery' ? String(t.attempts) : '',
            isoTime(t.started_at)!,
            t.path,
            t.destination ?? '',
            t.error ?? '',
          ]),
        );
      });
    });

  transfers
    .command('show <id>')
    .description('show one transfer; for a delivery, every attempt')
    .option('--json', 'machine-readable output')
    .option('--config <file>', 'YAML configuration file')
    .action(async (id: string, options: GlobalOptions & { json?: boolean }) => {
      if (!/^\d+$/.test(id)) throw new CliError(`invalid transfer id "${id}"`);
      await withDatabase(options, async ({ db }) => {
        const row = await new TransferLog(db).get(Number(id));
        if (!row) throw new CliError(`no transfer with id ${id}`);
        const history = row.job_id === null ? undefined : (await deliveryHistory(db, Number(row.job_id))).map(attemptJson);
        const t = { ...transferJson(row), ...(history ? { history } : {}) };
        if (options.json) return printJson(t);
        const { history: _, ...fields } = t as typeof t & { history?: unknown };
        printRecord(fields);
        if (history && history.length > 0) {
          process.stdout.write('\n');
          printTable(
            ['ATTEMPT', 'NODE', 'STATUS', 'BYTES', 'STARTED', 'ENDED', 'ERROR'],
            history.map((a) => [String(a.attempt), a.node, a.status, String(a.bytes), a.started ?? '', a.ended ?? '', a.error ?? '']),
          );
        }
      });
    });

  transfers
    .command('resubmit <id>')
    .description('queue a failed delivery again, with fresh attempts')
    .option('--config <file>', 'YAML configuration file')
    .action(async (id: string, options: GlobalOptions) => {
      if (!/^\d+$/.test(id)) throw new CliError(`invalid transfer id "${id}"`);
      await withDatabase(options, async ({ db }) => {
        try {
          await resubmitDelivery(db, Number(id));
        } catch (err) {
          if (err instanceof ResubmitError) throw new CliError(err.message);
          throw err;
        }
        process.stdout.write(`transfer ${id} queued again\n`);
      });
    });

  registerTransfersExport(transfers);
}
