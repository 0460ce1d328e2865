import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { CompiledQuery, sql } from 'kysely';
import { migrate, openDatabase, type DatabaseHandle } from '../src/db/connect.js';
import type { TransferDirection, TransferStatus } from '../src/db/schema.js';
import { TransferLog } from '../src/transfers/transfer-log.js';
import { DATABASE_KINDS, freshDatabaseUrl, tempDir } from './harness/databases.js';

const MINUTE = 60_000;
// A whole minute, so that the expected buckets are plain to read.
const T0 = 1_700_000_040_000;

for (const kind of DATABASE_KINDS) {
  describe(`reading the transfer log by status and end time (${kind})`, () => {
    let dir: string;
    let handle: DatabaseHandle;
    let log: TransferLog;

    const row = (direction: TransferDirection, status: TransferStatus, bytes: number, endedAt: number | null) => ({
      node_id: 'n1',
      worker_pid: 1,
      session_id: 's1',
      account: 'alice',
      protocol: 'sftp',
      client_address: '127.0.0.1',
      path: `/${direction}-${status}-${endedAt}`,
      direction,
      start_offset: 0,
      bytes,
      // A transfer that ran an hour: it counts in the minute it ended, not the one it started in.
      started_at: (endedAt ?? T0) - 60 * MINUTE,
      ended_at: endedAt,
      status,
    });

    before(async () => {
      dir = tempDir();
      handle = openDatabase(await freshDatabaseUrl(kind, dir));
      await migrate(handle);
      log = new TransferLog(handle.db);
      await handle.db
        .insertInto('transfers')
        .values([
          row('upload', 'completed', 100, T0 - 1), // ended before the window
          row('upload', 'completed', 10, T0),
          row('upload', 'completed', 20, T0 + MINUTE - 1),
          row('download', 'completed', 5, T0 + 30_000),
          row('upload', 'completed', 7, T0 + MINUTE),
          row('upload', 'failed', 1_000, T0 + MINUTE),
          row('upload', 'aborted', 1_000, T0 + MINUTE),
          row('upload', 'in-progress', 1_000, null),
          row('delivery', 'completed', 3, T0 + 2 * MINUTE + 5),
        ])
        .execute();
    });
    after(async () => {
      await handle.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('sums completed transfers by the minute they ended and their direction, nothing else', async () => {
      assert.deepEqual(await log.completedPerMinute(T0), [
        { minute: T0, direction: 'download', bytes: 5, count: 1 },
        { minute: T0, direction: 'upload', bytes: 30, count: 2 },
        { minute: T0 + MINUTE, direction: 'upload', bytes: 7, count: 1 },
        { minute: T0 + 2 * MINUTE, direction: 'delivery', bytes: 3, count: 1 },
      ]);
      assert.deepEqual(await log.completedPerMinute(T0 + 3 * MINUTE), []);
    });

    const planOf = async (query: { compile(): CompiledQuery }) => {
      const { sql: text, parameters } = query.compile();
      if (kind === 'sqlite') {
        const { rows } = await handle.db.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${text}`, [...parameters]));
        return rows.map((r) => r.detail).join('\n');
      }
      // A table this small is cheaper to scan: forbid that, to see whether an index can serve.
      return handle.db.transaction().execute(async (trx) => {
        await sql`set local enable_seqscan = off`.execute(trx);
        const { rows } = await trx.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`explain ${text}`, [...parameters]));
        return rows.map((r) => r['QUERY PLAN']).join('\n');
      });
    };

    it('reads completed rows by end time through their own index, not every completed row', async () => {
      const plan = await planOf(log.completedPerMinuteQuery(T0));
      assert.match(plan, /transfers_completed_ended/, plan);
    });

    it('lists a status newest first without sorting all its rows', async () => {
      for (const status of ['completed', 'failed'] as const) {
        const plan = await planOf(log.listQuery({ status, limit: 100 }));
        // SQLite: "USE TEMP B-TREE FOR ORDER BY"; PostgreSQL: a Sort node.
        assert.doesNotMatch(plan, /TEMP B-TREE FOR ORDER BY|Sort/, plan);
        if (kind === 'sqlite') assert.match(plan, /USING INDEX transfers_status \(status=\?\)/, plan);
      }
      assert.deepEqual(
        (await log.list({ status: 'completed', limit: 2 })).map((r) => r.path),
        ['/delivery-completed-' + (T0 + 2 * MINUTE + 5), '/upload-completed-' + (T0 + MINUTE)],
      );
    });

    it('replaces the (status, node_id) index', async () => {
      const catalog =
        kind === 'sqlite'
          ? sql<{ name: string }>`select name from sqlite_master where type = 'index' and tbl_name = 'transfers'`
          : sql<{ name: string }>`select indexname as name from pg_indexes where tablename = 'transfers'`;
      const indexes = (await catalog.execute(handle.db)).rows.map((r) => r.name);
      for (const name of ['transfers_status', 'transfers_completed_ended']) assert.ok(indexes.includes(name), `${name} in ${indexes.join(', ')}`);
      assert.ok(!indexes.includes('transfers_status_node'), indexes.join(', '));
    });
  });
}
