import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { migrate, openDatabase, type DatabaseHandle } from '../src/db/connect.js';
import { DATABASE_KINDS, preparedDatabaseUrl, tempDir } from './harness/databases.js';
import { startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';
import { waitFor } from './harness/wait.js';

const DAY_MS = 24 * 60 * 60 * 1000;

for (const kind of DATABASE_KINDS) {
  describe(`cluster event retention (${kind})`, () => {
    let dir: string;
    let env: FerryEnv;
    let handle: DatabaseHandle;
    let node: RunningNode | undefined;

    before(async () => {
      dir = tempDir();
      env = {
        dataDir: path.join(dir, 'data'),
        databaseUrl: await preparedDatabaseUrl(kind, dir),
        extra: { FERRY_NODE_WORKERS: '1', FERRY_CLUSTER_EVENT_RETENTION: '30d' },
      };
      fs.mkdirSync(env.dataDir, { recursive: true });
      handle = openDatabase(env.databaseUrl);
      await migrate(handle);
    });

    after(async () => {
      await node?.kill('SIGKILL');
      await handle?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('the primary deletes events older than cluster.event_retention, with their alert deliveries, and keeps newer ones', async () => {
      const now = Date.now();
      const insert = async (at: number, detail: string) => {
        const row = await handle.db
          .insertInto('cluster_events')
          .values({ at, kind: 'node-lost', node_id: null, node_name: 'old-node', detail })
          .returning('id')
          .executeTakeFirstOrThrow();
        await handle.db
          .insertInto('alert_deliveries')
          .values({
            webhook: 'hook',
            event_id: Number(row.id),
            status: 'delivered',
            attempts: 1,
            next_attempt_at: at,
            last_error: null,
            created_at: at,
            updated_at: at,
          })
          .execute();
        return Number(row.id);
      };
      const old = await insert(now - 40 * DAY_MS, 'forty days ago');
      const recent = await insert(now - 20 * DAY_MS, 'twenty days ago');

      node = await startNode(env);
      await waitFor(
        'the old event purged',
        async () => ((await handle.db.selectFrom('cluster_events').select('id').where('id', '=', old).executeTakeFirst()) ? undefined : true),
        30_000,
      );
      const events = await handle.db.selectFrom('cluster_events').select(['id', 'detail']).execute();
      assert.ok(
        events.some((e) => Number(e.id) === recent),
        'the 20-day-old event is kept',
      );
      assert.ok(
        events.some((e) => e.detail.startsWith('mode ')),
        "the node's own node-joined event is kept",
      );
      const deliveries = await handle.db.selectFrom('alert_deliveries').select('event_id').execute();
      assert.deepEqual(
        deliveries.map((d) => Number(d.event_id)),
        [recent],
        'only the kept event keeps its delivery record',
      );
    });
  });
}
