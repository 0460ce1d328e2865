import { sql } from 'kysely';
import { migrate, MIGRATION_TABLE, type DatabaseHandle } from './connect.js';
import { migrations } from './migrations.js';

/** A database whose schema this Ferry does not match: refused before anything is read or written. */
export class SchemaVersionError extends Error {}

export type SchemaCondition = 'empty' | 'current' | 'behind' | 'newer';

export interface SchemaState {
  /** Migrations recorded in the database, in name order. */
  applied: string[];
  /** Migrations this Ferry has (src/db/migrations.ts), in order. */
  known: string[];
  /** The last applied migration; null for an empty database. */
  current: string | null;
  /** The last migration this Ferry knows. */
  latest: string;
  /** Known migrations not yet applied. */
  pending: string[];
  /** Applied migrations this Ferry does not know: written by a newer Ferry. */
  unknown: string[];
  condition: SchemaCondition;
}

async function migrationTableExists(handle: DatabaseHandle): Promise<boolean> {
  if (handle.dialect === 'sqlite') {
    const { rows } = await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name = ${MIGRATION_TABLE}`.execute(handle.db);
    return rows.length > 0;
  }
  const { rows } = await sql<{ present: boolean }>`select to_regclass(${MIGRATION_TABLE}) is not null as present`.execute(handle.db);
  return rows[0]?.present === true;
}

/** Reads which migrations the database has, against the ones this Ferry knows; changes nothing. */
export async function readSchemaState(handle: DatabaseHandle): Promise<SchemaState> {
  const known = Object.keys(migrations(handle.dialect)).sort();
  const latest = known[known.length - 1]!;
  const applied = (await migrationTableExists(handle))
    ? (await sql<{ name: string }>`select name from ${sql.table(MIGRATION_TABLE)} order by name`.execute(handle.db)).rows.map((r) => r.name)
    : [];
  const done = new Set(applied);
  const unknown = applied.filter((name) => !known.includes(name));
  const pending = known.filter((name) => !done.has(name));
  const condition: SchemaCondition = applied.length === 0 ? 'empty' : unknown.length > 0 ? 'newer' : pending.length > 0 ? 'behind' : 'current';
  return { applied, known, current: applied[applied.length - 1] ?? null, latest, pending, unknown, condition };
}

/** What is wrong with the schema for this Ferry, or null when it matches (or is empty, to be initialised). */
export function schemaMismatch(state: SchemaState): string | null {
  if (state.condition === 'newer') {
    return `database schema ${state.unknown[state.unknown.length - 1]} is newer than this Ferry (up to ${state.latest}): upgrade Ferry`;
  }
  if (state.condition === 'behind') {
    return `database schema is at ${state.current}, this Ferry knows up to ${state.latest}: run \`ferry db migrate\``;
  }
  return null;
}

/**
 * Makes sure the database holds exactly the schema this Ferry knows before a node
 * or a command uses it. A brand-new empty database is initialised (so that
 * `ferry start` or `ferry account add` on a fresh machine just works); any other
 * difference is refused, changing nothing: an older schema is upgraded only by
 * `ferry db migrate` (so a newer command never migrates under older running
 * nodes), and a newer one needs a newer Ferry.
 */
export async function requireKnownSchema(handle: DatabaseHandle): Promise<void> {
  let state = await readSchemaState(handle);
  if (state.condition === 'empty') {
    // Several nodes may start on one empty database at once: the migrator's lock lets one apply each migration.
    await migrate(handle);
    state = await readSchemaState(handle);
  }
  const mismatch = schemaMismatch(state);
  if (mismatch) throw new SchemaVersionError(mismatch);
}

export interface MigrationOutcome {
  before: SchemaState;
  /** The migrations applied (or, with dryRun, that would be). */
  applied: string[];
}

/** `ferry db migrate`: applies the pending migrations; refuses a schema newer than this Ferry. */
export async function migrateSchema(handle: DatabaseHandle, options: { dryRun?: boolean } = {}): Promise<MigrationOutcome> {
  const before = await readSchemaState(handle);
  if (before.condition === 'newer') throw new SchemaVersionError(schemaMismatch(before)!);
  if (!options.dryRun && before.pending.length > 0) await migrate(handle);
  return { before, applied: before.pending };
}
