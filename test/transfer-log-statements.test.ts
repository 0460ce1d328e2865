import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { migrate, openDatabase, type DatabaseHandle } from '../src/db/connect.js';
import type { RouteEvent } from '../src/db/schema.js';
import { recordDeliveryOutcome, recordQueuedDelivery } from '../src/transfers/delivery-rows.js';
import { TransferLog } from '../src/transfers/transfer-log.js';
import { DATABASE_KINDS, freshDatabaseUrl, tempDir } from './harness/databases.js';

const start = (path: string) => ({
  nodeId: 'n1',
  workerPid: 1,
  sessionId: 's1',
  account: 'alice',
  protocol: 'sftp',
  clientAddress: '127.0.0.1',
  path,
  direction: 'upload' as const,
  startOffset: 0,
});

// The transfer log's per-file statements skip Kysely's driver on SQLite (db/direct-sqlite.ts):
// they must still keep out of, or go into, the transactions Kysely has open.
for (const kind of DATABASE_KINDS) {
  describe(`transfer-log statements and open transactions (${kind})`, () => {
    let dir: string;
    let handle: DatabaseHandle;
    let log: TransferLog;

    before(async () => {
      dir = tempDir();
      handle = openDatabase(await freshDatabaseUrl(kind, dir));
      await migrate(handle);
      log = new TransferLog(handle.db);
    });
    after(async () => {
      await handle.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('records a start made while another task’s transaction is open outside that transaction', async () => {
      let started: Promise<number> | undefined;
      await assert.rejects(
        handle.db.transaction().execute(async (trx) => {
          await trx
            .insertInto('accounts')
            .values({ name: 'alice', password_hash: null, home: 'alice', disabled: 0, created_at: 1, updated_at: 1, failure_count: 0 })
            .execute();
          started = log.start(start('/outside.bin'));
          await new Promise((resolve) => setTimeout(resolve, 20));
          throw new Error('roll back');
        }),
        /roll back/,
      );
      const id = await started!;
      const row = await log.get(id);
      assert.equal(row?.path, '/outside.bin', 'the row outlives the rolled-back transaction');
      assert.equal(row?.status, 'in-progress');
      const accounts = await handle.db.selectFrom('accounts').select('id').execute();
      assert.equal(accounts.length, 0, 'the transaction itself was rolled back');
    });

    it('ends a transfer, and with what it causes, inside one transaction', async () => {
      const id = await log.start(start('/inside.bin'));
      await assert.rejects(
        log.finish(id, { status: 'completed', bytes: 10, sha256: 'ab'.repeat(32) }, async () => {
          throw new Error('routing failed');
        }),
        /routing failed/,
      );
      assert.equal((await log.get(id))?.status, 'in-progress', 'the end rolled back with what it caused');
      await log.finish(id, { status: 'completed', bytes: 10, sha256: 'ab'.repeat(32) });
      const row = await log.get(id);
      assert.deepEqual([row?.status, Number(row?.bytes), row?.sha256], ['completed', 10, 'ab'.repeat(32)]);
    });

    it('ends an upload alone when its account has no enabled upload route, and with its deliveries when it has one', async () => {
      const end = { status: 'completed' as const, bytes: 10, sha256: 'cd'.repeat(32) };
      const routedRows: string[] = [];
      const routeUpload = async (_trx: unknown, row: { path: string }) => {
        routedRows.push(row.path);
        if (row.path === '/fails.bin') throw new Error('queueing failed');
      };
      const route = (name: string, onEvent: RouteEvent, enabled: number) =>
        handle.db
          .insertInto('routes')
          .values({
            name,
            account: 'alice',
            path_glob: '*',
            on_event: onEvent,
            action: '{"steps":[]}',
            rename: null,
            after_delivery: null,
            enabled,
            created_at: 1,
          })
          .execute();

      // Routes that do not apply to an upload (disabled, or for files a folder monitor finds): one statement, nothing routed.
      await route('disabled', 'upload', 0);
      await route('monitored', 'monitor', 1);
      const plain = await log.start(start('/plain.bin'));
      await log.finishUpload(plain, end, routeUpload);
      assert.equal((await log.get(plain))?.status, 'completed');
      assert.deepEqual(routedRows, []);

      await route('uploads', 'upload', 1);
      const routed = await log.start(start('/routed.bin'));
      await log.finishUpload(routed, end, routeUpload);
      assert.equal((await log.get(routed))?.status, 'completed');
      assert.deepEqual(routedRows, ['/routed.bin'], 'an enabled upload route sends the end through routing');

      const failing = await log.start(start('/fails.bin'));
      await assert.rejects(log.finishUpload(failing, end, routeUpload), /queueing failed/);
      assert.equal((await log.get(failing))?.status, 'in-progress', 'a routed end commits with its deliveries or not at all');

      // Another account's route is not this one's.
      const other = await log.start({ ...start('/other.bin'), account: 'bob' });
      await log.finishUpload(other, end, routeUpload);
      assert.equal((await log.get(other))?.status, 'completed');
      assert.deepEqual(routedRows, ['/routed.bin', '/fails.bin']);
      await handle.db.deleteFrom('routes').execute();
    });

    it('records how a delivery attempt ended even when its start could not be recorded', async () => {
      // The queue records every attempt's outcome; an attempt whose start failed (the database refused
      // it) has no history row, and its outcome once failed on "NOT NULL constraint failed: transfers.attempts",
      // leaving the job to wait out its lease.
      const delivery = { jobId: 4242, origin: 'route:r', account: 'alice', path: '/d.bin', protocol: 'partner', destination: 'bank' };
      const id = await recordQueuedDelivery(handle.db, delivery);
      await recordDeliveryOutcome(handle.db, id, delivery.jobId, { status: 'retry', error: 'database is locked' });
      const row = await log.get(id);
      assert.deepEqual([row?.status, row?.attempts, row?.error], ['queued', 0, 'database is locked']);
    });

    it('reports a failed statement as a rejected promise', async () => {
      await handle.db.schema.dropIndex('transfers_started').execute();
      await handle.db.schema.createIndex('transfers_no_twin_paths').on('transfers').columns(['account', 'path']).unique().execute();
      try {
        await log.start(start('/twin.bin'));
        const again = log.start(start('/twin.bin'));
        await assert.rejects(again, /UNIQUE|unique|duplicate/);
      } finally {
        await handle.db.schema.dropIndex('transfers_no_twin_paths').execute();
        await handle.db.schema.createIndex('transfers_started').on('transfers').column('started_at').execute();
      }
    });
  });
}
