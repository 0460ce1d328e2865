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
  describe(`completed transfers per minute (${kind})`, () => {
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

    it('reads the log through the (status, ended_at) index, not every completed row', async () => {
      const { sql: text, parameters } = log.completedPerMinuteQuery(T0).compile();
      let plan: string;
      if (kind === 'sqlite') {
        const { rows } = await handle.db.executeQuery<{ detail: string }>(CompiledQuery.raw(`explain query plan ${text}`, [...parameters]));
        plan = rows.map((r) => r.detail).join('\n');
      } else {
        // A table this small is cheaper to scan: forbid that, to see whether the index can serve.
        plan = await handle.db.transaction().execute(async (trx) => {
          await sql`set local enable_seqscan = off`.execute(trx);
          const { rows } = await trx.executeQuery<{ 'QUERY PLAN': string }>(CompiledQuery.raw(`explain ${text}`, [...parameters]));
          return rows.map((r) => r['QUERY PLAN']).join('\n');
        });
      }
      assert.match(plan, /transfers_status_ended/, plan);
      const catalog =
        kind === 'sqlite'
          ? sql<{ name: string }>`select name from sqlite_master where type = 'index' and tbl_name = 'transfers'`
          : sql<{ name: string }>`select indexname as name from pg_indexes where tablename = 'transfers'`;
      const indexes = (await catalog.execute(handle.db)).rows.map((r) => r.name);
      assert.ok(indexes.includes('transfers_status_ended') && !indexes.includes('transfers_status_node'), `the index it replaced is gone: ${indexes.join(', ')}`);
    });
  });
}
