import { type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { Dialect } from './connect.js';

/**
 * Every schema change, in order. Names sort lexically; never edit a migration that
 * has shipped, add a new one. Kysely's migrator takes a lock (an advisory lock on
 * PostgreSQL), so nodes starting at once apply each migration exactly once.
 */
export function migrations(dialect: Dialect): Record<string, Migration> {
  const idType = dialect === 'postgres' ? 'bigserial' : 'integer';
  const id = (table: any) =>
    dialect === 'postgres'
      ? table.addColumn('id', idType, (c: any) => c.primaryKey())
      : table.addColumn('id', 'integer', (c: any) => c.primaryKey().autoIncrement());

  return {
    '0001_foundation': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('nodes')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('version', 'text', (c) => c.notNull())
          .addColumn('started_at', 'bigint', (c) => c.notNull())
          .addColumn('heartbeat_at', 'bigint', (c) => c.notNull())
          .addColumn('stopped_at', 'bigint')
          .execute();

        await id(db.schema.createTable('accounts'))
          .addColumn('name', 'text', (c: any) => c.notNull().unique())
          .addColumn('password_hash', 'text')
          .addColumn('home', 'text', (c: any) => c.notNull())
          .addColumn('disabled', 'integer', (c: any) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'bigint', (c: any) => c.notNull())
          .addColumn('updated_at', 'bigint', (c: any) => c.notNull())
          .addColumn('failure_count', 'integer', (c: any) => c.notNull().defaultTo(0))
          .addColumn('failure_window_start', 'bigint')
          .addColumn('last_failure_at', 'bigint')
          .addColumn('last_failure_address', 'text')
          .addColumn('locked_until', 'bigint')
          .execute();

        await id(db.schema.createTable('account_keys'))
          .addColumn('account_id', 'bigint', (c: any) => c.notNull().references('accounts.id').onDelete('cascade'))
          .addColumn('algorithm', 'text', (c: any) => c.notNull())
          .addColumn('public_key', 'text', (c: any) => c.notNull())
          .addColumn('fingerprint', 'text', (c: any) => c.notNull())
          .addColumn('comment', 'text', (c: any) => c.notNull().defaultTo(''))
          .addColumn('created_at', 'bigint', (c: any) => c.notNull())
          .addUniqueConstraint('account_keys_account_key', ['account_id', 'public_key'])
          .execute();

        await db.schema
          .createTable('host_keys')
          .addColumn('algorithm', 'text', (c) => c.primaryKey())
          .addColumn('private_key', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();

        await id(db.schema.createTable('transfers'))
          .addColumn('node_id', 'text', (c: any) => c.notNull())
          .addColumn('worker_pid', 'integer', (c: any) => c.notNull())
          .addColumn('session_id', 'text', (c: any) => c.notNull())
          .addColumn('account', 'text', (c: any) => c.notNull())
          .addColumn('protocol', 'text', (c: any) => c.notNull())
          .addColumn('client_address', 'text', (c: any) => c.notNull())
          .addColumn('path', 'text', (c: any) => c.notNull())
          .addColumn('direction', 'text', (c: any) => c.notNull())
          .addColumn('start_offset', 'bigint', (c: any) => c.notNull().defaultTo(0))
          .addColumn('bytes', 'bigint', (c: any) => c.notNull().defaultTo(0))
          .addColumn('started_at', 'bigint', (c: any) => c.notNull())
          .addColumn('ended_at', 'bigint')
          .addColumn('sha256', 'text')
          .addColumn('status', 'text', (c: any) => c.notNull())
          .addColumn('error', 'text')
          .execute();
        await db.schema.createIndex('transfers_status_node').on('transfers').columns(['status', 'node_id']).execute();
        await db.schema.createIndex('transfers_account_started').on('transfers').columns(['account', 'started_at']).execute();
      },
    },
    '0002_cluster': {
      async up(db: Kysely<any>) {
        for (const [column, type] of [
          ['state', 'text'],
          ['ready', 'integer'],
          ['sessions', 'integer'],
          ['sftp_address', 'text'],
          ['admin_address', 'text'],
          ['drain_deadline', 'bigint'],
          ['lost_at', 'bigint'],
          ['mode', 'text'],
        ] as const) {
          await db.schema
            .alterTable('nodes')
            .addColumn(column, type, (c) =>
              column === 'state' ? c.notNull().defaultTo('active') : column === 'ready' || column === 'sessions' ? c.notNull().defaultTo(0) : c,
            )
            .execute();
        }

        await db.schema
          .createTable('leases')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('holder', 'text')
          .addColumn('token', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('expires_at', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('acquired_at', 'bigint')
          .execute();
        await db.insertInto('leases').values({ name: 'primary', holder: null, token: 0, expires_at: 0 }).execute();

        await id(db.schema.createTable('cluster_events'))
          .addColumn('at', 'bigint', (c: any) => c.notNull())
          .addColumn('kind', 'text', (c: any) => c.notNull())
          .addColumn('node_id', 'text')
          .addColumn('node_name', 'text')
          .addColumn('detail', 'text', (c: any) => c.notNull().defaultTo(''))
          .execute();
        await db.schema.createIndex('cluster_events_at').on('cluster_events').column('at').execute();
      },
    },
    '0003_file_stamps': {
      async up(db: Kysely<any>) {
        // Identifies the exact file version an upload produced, so a download of
        // that same version can log its SHA-256 without hashing every byte again.
        await db.schema.alterTable('transfers').addColumn('file_stamp', 'text').execute();
        await db.schema.createIndex('transfers_account_path').on('transfers').columns(['account', 'path']).execute();
      },
    },
  };
}


export function migrationProvider(dialect: Dialect): MigrationProvider {
  return { getMigrations: async () => migrations(dialect) };
}
