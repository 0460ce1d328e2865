import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type SQLite from 'better-sqlite3';
import type pg from 'pg';
import { Kysely, Migrator, PostgresDialect } from 'kysely';
import { registerSqliteConnection } from './direct-sqlite.js';
import { FerrySqliteDialect } from './sqlite-dialect.js';
import type { Database } from './schema.js';
import { migrationProvider } from './migrations.js';

export type Dialect = 'sqlite' | 'postgres';

export interface DatabaseHandle {
  db: Kysely<Database>;
  dialect: Dialect;
  /** The URL with any password masked, for logs and status output. */
  displayUrl: string;
  close(): Promise<void>;
}

// Only the driver a node uses is loaded: each costs several MiB in every process.
const require = createRequire(import.meta.url);

function loadSqlite(): typeof SQLite {
  return require('better-sqlite3') as typeof SQLite;
}

function loadPg(): typeof pg {
  const driver = require('pg') as typeof pg;
  // int8 (bigint) columns hold epoch milliseconds and byte counts: all safe integers.
  driver.types.setTypeParser(20, (value: string) => Number(value));
  return driver;
}

/**
 * Kysely prepares every query anew; the hot path (logins, transfer-log rows) repeats
 * a handful of statements, so keep the prepared ones (bounded, the least recently
 * used dropped first: rare statements, such as a list with an unusual limit, do
 * not push out the busy ones).
 */
function withStatementCache(sqlite: SQLite.Database, limit = 200): SQLite.Database {
  const cache = new Map<string, SQLite.Statement>();
  const prepare = sqlite.prepare.bind(sqlite);
  return Object.assign(Object.create(sqlite), {
    prepare(source: string) {
      let statement = cache.get(source);
      if (statement) {
        // A Map keeps insertion order: moving a used statement to the end makes the first the least recently used.
        cache.delete(source);
        cache.set(source, statement);
      } else {
        statement = prepare(source);
        if (cache.size >= limit) cache.delete(cache.keys().next().value!);
        cache.set(source, statement);
      }
      return statement;
    },
    close: () => sqlite.close(),
  }) as SQLite.Database;
}

/** The kind of database a database.url names, without opening it. */
export function dialectOf(url: string): Dialect {
  if (url.startsWith('sqlite:')) return 'sqlite';
  if (/^postgres(ql)?:\/\//.test(url)) return 'postgres';
  throw new Error(`database.url must start with sqlite: or postgres:// (got "${maskUrl(url)}")`);
}

export function maskUrl(url: string): string {
  return url.replace(/^(postgres(?:ql)?:\/\/[^:/@]+:)[^@]*@/, '$1***@');
}

export function openDatabase(url: string, options: { poolSize?: number } = {}): DatabaseHandle {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    if (!file) throw new Error('database.url "sqlite:" needs a file path, e.g. sqlite:./data/ferry.db');
    if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    const sqlite = new (loadSqlite())(file);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('busy_timeout = 10000');
    sqlite.pragma('foreign_keys = ON');
    const connection = withStatementCache(sqlite);
    const db = new Kysely<Database>({ dialect: new FerrySqliteDialect({ database: connection }) });
    registerSqliteConnection(db, connection);
    return { db, dialect: 'sqlite', displayUrl: url, close: () => db.destroy() };
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    const pool = new (loadPg().Pool)({ connectionString: url, max: options.poolSize ?? 10, connectionTimeoutMillis: 10_000 });
    // A dropped idle connection must not crash the node; the pool replaces it.
    pool.on('error', () => {});
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { db, dialect: 'postgres', displayUrl: maskUrl(url), close: () => db.destroy() };
  }
  throw new Error(`database.url must start with sqlite: or postgres:// (got "${maskUrl(url)}")`);
}

/** Kysely's migrator over Ferry's migrations and its own bookkeeping tables. */
export function schemaMigrator(handle: DatabaseHandle): Migrator {
  return new Migrator({
    db: handle.db,
    provider: migrationProvider(handle.dialect),
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: 'ferry_migrations_lock',
  });
}

/** Where Kysely records each applied migration (name, timestamp). */
export const MIGRATION_TABLE = 'ferry_migrations';

/**
 * Applies pending migrations; safe when several nodes start at once. Only
 * `ferry db migrate`, the initialisation of an empty database and `ferry restore`
 * (into an empty database) call it: see schema-version.ts.
 */
export async function migrate(handle: DatabaseHandle): Promise<void> {
  const { error, results } = await schemaMigrator(handle).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${(error as Error).message ?? error}`);
  }
}
