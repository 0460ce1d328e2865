import type { Command } from 'commander';
import { migrateSchema, readSchemaState, schemaMismatch, type SchemaState } from '../../db/schema-version.js';
import { printJson, withAnySchema, type GlobalOptions } from '../context.js';

function stateJson(state: SchemaState, database: string) {
  return {
    database,
    schema: state.current,
    latest: state.latest,
    condition: state.condition,
    pending: state.pending,
    unknown: state.unknown,
  };
}

function describe(state: SchemaState): string {
  switch (state.condition) {
    case 'empty':
      return 'empty: the first command or node initialises it';
    case 'current':
      return 'up to date';
    default:
      return schemaMismatch(state)!;
  }
}

export function registerDb(program: Command): void {
  const db = program.command('db').description("the database schema: this Ferry's against the database's");

  db.command('status')
    .description('the schema the database is at and the one this Ferry knows; changes nothing')
    .option('--json', 'machine-readable output')
    .option('--config <file>', 'YAML configuration file')
    .action(async (options: GlobalOptions & { json?: boolean }) => {
      await withAnySchema(options, async (handle) => {
        const state = await readSchemaState(handle);
        if (options.json) return printJson(stateJson(state, handle.displayUrl));
        const pending = state.pending.length > 0 ? `pending: ${state.pending.join(', ')}\n` : '';
        const unknown = state.unknown.length > 0 ? `unknown to this Ferry: ${state.unknown.join(', ')}\n` : '';
        process.stdout.write(
          `database: ${handle.displayUrl}\nschema: ${state.current ?? 'none'}\nthis Ferry: up to ${state.latest}\n${pending}${unknown}state: ${describe(state)}\n`,
        );
      });
    });

  db.command('migrate')
    .description('apply the migrations this Ferry has and the database lacks (the only command that changes a schema)')
    .option('--dry-run', 'print the migrations it would apply, change nothing')
    .option('--config <file>', 'YAML configuration file')
    .action(async (options: GlobalOptions & { dryRun?: boolean }) => {
      await withAnySchema(options, async (handle) => {
        const { before, applied } = await migrateSchema(handle, { dryRun: options.dryRun });
        if (applied.length === 0) {
          process.stdout.write(`database schema is up to date at ${before.latest}\n`);
          return;
        }
        const from = before.current ?? 'an empty database';
        const verb = options.dryRun ? 'would migrate' : 'migrated';
        process.stdout.write(`${verb} the database schema from ${from} to ${before.latest}: ${applied.join(', ')}\n`);
      });
    });
}
