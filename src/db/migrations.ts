import { sql, type Kysely, type Migration, type MigrationProvider } from 'kysely';
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
    '0004_routing': {
      async up(db: Kysely<any>) {
        const text = (c: any) => c.notNull();
        await id(db.schema.createTable('partners'))
          .addColumn('name', 'text', (c: any) => c.notNull().unique())
          .addColumn('protocol', 'text', text)
          .addColumn('url', 'text', text)
          // Connection settings as JSON, secrets included: the database is the cluster's only shared store.
          .addColumn('settings', 'text', text)
          .addColumn('created_at', 'bigint', text)
          .addColumn('updated_at', 'bigint', text)
          .execute();

        await id(db.schema.createTable('routes'))
          .addColumn('name', 'text', (c: any) => c.notNull().unique())
          .addColumn('account', 'text', text)
          .addColumn('path_glob', 'text', text)
          .addColumn('on_event', 'text', text)
          .addColumn('action', 'text', text)
          .addColumn('rename', 'text')
          .addColumn('after_delivery', 'text')
          .addColumn('enabled', 'integer', (c: any) => c.notNull().defaultTo(1))
          .addColumn('created_at', 'bigint', text)
          .execute();
        await db.schema.createIndex('routes_account_event').on('routes').columns(['account', 'on_event']).execute();

        await id(db.schema.createTable('jobs'))
          .addColumn('kind', 'text', text)
          // Set for work that must exist once only (a schedule slot, a file version found by a monitor).
          .addColumn('dedupe_key', 'text', (c: any) => c.unique())
          .addColumn('payload', 'text', text)
          .addColumn('status', 'text', text)
          .addColumn('attempts', 'integer', (c: any) => c.notNull().defaultTo(0))
          .addColumn('max_attempts', 'integer', text)
          .addColumn('run_after', 'bigint', text)
          .addColumn('lease_owner', 'text')
          .addColumn('lease_token', 'bigint', (c: any) => c.notNull().defaultTo(0))
          .addColumn('lease_expires_at', 'bigint')
          .addColumn('checkpoint', 'text')
          .addColumn('last_error', 'text')
          .addColumn('transfer_id', 'bigint')
          .addColumn('created_at', 'bigint', text)
          .addColumn('updated_at', 'bigint', text)
          .execute();
        await db.schema.createIndex('jobs_status_run_after').on('jobs').columns(['status', 'run_after']).execute();

        await id(db.schema.createTable('job_attempts'))
          .addColumn('job_id', 'bigint', text)
          .addColumn('attempt', 'integer', text)
          .addColumn('node_id', 'text', text)
          .addColumn('started_at', 'bigint', text)
          .addColumn('ended_at', 'bigint')
          .addColumn('status', 'text', text)
          .addColumn('bytes', 'bigint', (c: any) => c.notNull().defaultTo(0))
          .addColumn('error', 'text')
          .execute();
        await db.schema.createIndex('job_attempts_job').on('job_attempts').column('job_id').execute();

        await db.schema.alterTable('transfers').addColumn('job_id', 'bigint').execute();
        await db.schema
          .alterTable('transfers')
          .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
        await db.schema.alterTable('transfers').addColumn('destination', 'text').execute();

        await id(db.schema.createTable('schedules'))
          .addColumn('name', 'text', (c: any) => c.notNull().unique())
          .addColumn('cron', 'text', text)
          .addColumn('timezone', 'text')
          .addColumn('action', 'text', text)
          .addColumn('rename', 'text')
          .addColumn('after_delivery', 'text')
          .addColumn('catch_up', 'text', text)
          // The last slot enqueued; written by the primary under its fencing token.
          .addColumn('last_slot', 'bigint')
          .addColumn('enabled', 'integer', (c: any) => c.notNull().defaultTo(1))
          .addColumn('created_at', 'bigint', text)
          .execute();

        await id(db.schema.createTable('monitors'))
          .addColumn('name', 'text', (c: any) => c.notNull().unique())
          .addColumn('account', 'text', text)
          .addColumn('dir', 'text', text)
          .addColumn('path_glob', 'text', text)
          .addColumn('stable_ms', 'bigint', text)
          .addColumn('enabled', 'integer', (c: any) => c.notNull().defaultTo(1))
          .addColumn('created_at', 'bigint', text)
          .execute();

        await db.schema
          .createTable('monitor_files')
          .addColumn('monitor_id', 'bigint', text)
          .addColumn('path', 'text', text)
          .addColumn('stamp', 'text', text)
          .addColumn('seen_at', 'bigint', text)
          .addPrimaryKeyConstraint('monitor_files_pk', ['monitor_id', 'path'])
          .execute();
      },
    },
    '0005_pulled_files': {
      async up(db: Kysely<any>) {
        // The partner file versions a pull schedule has fetched: each version is fetched once.
        await db.schema
          .createTable('pulled_files')
          .addColumn('schedule_id', 'bigint', (c) => c.notNull())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('version', 'text', (c) => c.notNull())
          .addColumn('pulled_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('pulled_files_pk', ['schedule_id', 'name'])
          .execute();
      },
    },
    '0006_account_allow_from': {
      async up(db: Kysely<any>) {
        // The networks an account may log in from, a JSON array of CIDRs; NULL allows any address.
        await db.schema.alterTable('accounts').addColumn('allow_from', 'text').execute();
      },
    },
    '0007_admin_users': {
      async up(db: Kysely<any>) {
        // Operators of the REST API and console; tokens are kept as SHA-256 hashes so every node can check them.
        await id(db.schema.createTable('admin_users'))
          .addColumn('name', 'text', (c: any) => c.notNull().unique())
          .addColumn('password_hash', 'text', (c: any) => c.notNull())
          .addColumn('role', 'text', (c: any) => c.notNull())
          .addColumn('disabled', 'integer', (c: any) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'bigint', (c: any) => c.notNull())
          .addColumn('updated_at', 'bigint', (c: any) => c.notNull())
          .execute();
        await id(db.schema.createTable('admin_tokens'))
          .addColumn('token_hash', 'text', (c: any) => c.notNull().unique())
          .addColumn('admin_id', 'bigint', (c: any) => c.notNull())
          .addColumn('kind', 'text', (c: any) => c.notNull())
          .addColumn('label', 'text', (c: any) => c.notNull().defaultTo(''))
          .addColumn('created_at', 'bigint', (c: any) => c.notNull())
          .addColumn('expires_at', 'bigint', (c: any) => c.notNull())
          .addColumn('last_used_at', 'bigint')
          .execute();
        await db.schema.createIndex('admin_tokens_admin').on('admin_tokens').column('admin_id').execute();
      },
    },
    '0008_alert_deliveries': {
      async up(db: Kysely<any>) {
        // Where each alert webhook's deliveries start: events recorded before it was configured are not sent.
        await db.schema
          .createTable('alert_webhooks')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('start_after', 'bigint', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        // One row per event and webhook, so an event is sent until it is acknowledged, across failovers.
        await db.schema
          .createTable('alert_deliveries')
          .addColumn('webhook', 'text', (c) => c.notNull())
          .addColumn('event_id', 'bigint', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
          .addColumn('last_error', 'text')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('alert_deliveries_pk', ['webhook', 'event_id'])
          .execute();
        await db.schema.createIndex('alert_deliveries_due').on('alert_deliveries').columns(['status', 'next_attempt_at']).execute();
      },
    },
    '0009_transfers_started_index': {
      async up(db: Kysely<any>) {
        // The capacity report and the transfer-log export read the log by time.
        await db.schema.createIndex('transfers_started').on('transfers').column('started_at').execute();
      },
    },
    '0010_transfers_status_and_end_indexes': {
      async up(db: Kysely<any>) {
        // File tracking lists a status newest first (status = ? ORDER BY id DESC LIMIT n): with
        // (status, node_id) that sorted every row of the status, a second per million completed
        // rows. (status, id) hands them over in order; the node-id queries only look at rows in
        // progress, which are few.
        await db.schema.createIndex('transfers_status').on('transfers').columns(['status', 'id']).execute();
        await db.schema.dropIndex('transfers_status_node').execute();
        // The console's throughput chart reads completed rows by end time, every few seconds: without
        // this it scanned them all. Partial, so a transfer enters it once, when it completes; status
        // leads it so that a planner without statistics ranks it above (status, id) for that query.
        await db.schema
          .createIndex('transfers_completed_ended')
          .on('transfers')
          .columns(['status', 'ended_at'])
          .where(sql.ref('status'), '=', 'completed')
          .execute();
      },
    },
    '0011_defender_hosts': {
      async up(db: Kysely<any>) {
        // The defender's per-address record (accounts/defender.ts): failures in the current
        // observation window, the ban if any, and how many bans came before (repeat offenders
        // are banned longer). One row per address, so a login reads or writes one row.
        await db.schema
          .createTable('defender_hosts')
          .addColumn('address', 'text', (c) => c.primaryKey())
          .addColumn('score', 'integer', (c) => c.notNull())
          .addColumn('window_start', 'bigint', (c) => c.notNull())
          .addColumn('banned_until', 'bigint')
          .addColumn('bans', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('last_event_at', 'bigint', (c) => c.notNull())
          .addColumn('last_account', 'text')
          .execute();
      },
    },
    '0012_transfers_whole_file': {
      async up(db: Kysely<any>) {
        // Whether a transfer carried its whole file, from byte 0 to the end: a ranged read of
        // a file's last megabyte reaches its end too, and must not pass for a download of it.
        await db.schema.alterTable('transfers').addColumn('whole_file', 'integer').execute();
      },
    },
  };
}

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return { getMigrations: async () => migrations(dialect) };
}
