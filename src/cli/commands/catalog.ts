import type { Command } from 'commander';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import { CliError, printJson, printTable, withDatabase, type GlobalOptions } from '../context.js';
import { printRecord } from './print-record.js';

/** What `list`, `show` and `remove` need of a store of named things (partners, routes, …). */
export interface Catalog<Row> {
  /** The thing's name in messages: "partner", "route", … */
  noun: string;
  store(db: Kysely<Database>): { list(): Promise<Row[]>; find(name: string): Promise<Row | undefined>; remove(name: string): Promise<void> };
  /** The stable JSON shape (documented in docs/cli.md). */
  json(row: Row): Record<string, unknown>;
  table: { header: string[]; cells(row: Row): string[] };
  /** What `remove` leaves running, for its help text. */
  removeHelp: string;
}

/** Adds `list [--json]`, `show NAME [--json]` and `remove NAME` to a command group. */
export function registerCatalogCommands<Row>(group: Command, catalog: Catalog<Row>): void {
  group
    .command('list')
    .description(`list ${catalog.noun}s`)
    .option('--json', 'machine-readable output')
    .option('--config <file>', 'YAML configuration file')
    .action(async (options: GlobalOptions & { json?: boolean }) => {
      await withDatabase(options, async ({ db }) => {
        const rows = await catalog.store(db).list();
        if (options.json) return printJson(rows.map((r) => catalog.json(r)));
        printTable(
          catalog.table.header,
          rows.map((r) => catalog.table.cells(r)),
        );
      });
    });

  group
    .command('show <name>')
    .description(`show one ${catalog.noun}`)
    .option('--json', 'machine-readable output')
    .option('--config <file>', 'YAML configuration file')
    .action(async (name: string, options: GlobalOptions & { json?: boolean }) => {
      await withDatabase(options, async ({ db }) => {
        const row = await catalog.store(db).find(name);
        if (!row) throw new CliError(`no ${catalog.noun} named "${name}"`);
        if (options.json) return printJson(catalog.json(row));
        printRecord(catalog.json(row));
      });
    });

  group
    .command('remove <name>')
    .description(catalog.removeHelp)
    .option('--config <file>', 'YAML configuration file')
    .action(async (name: string, options: GlobalOptions) => {
      await withDatabase(options, async ({ db }) => {
        await catalog.store(db).remove(name);
        process.stdout.write(`${catalog.noun} ${name} removed\n`);
      });
    });
}
