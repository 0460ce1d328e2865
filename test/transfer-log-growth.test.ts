import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { migrate, openDatabase, type DatabaseHandle } from '../src/db/connect.js';
import type { TransferStatus } from '../src/db/schema.js';
import { DATABASE_KINDS, preparedDatabaseUrl, tempDir } from './harness/databases.js';
import { runFerry, startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';
import { sshKeygen } from './harness/openssh.js';
import { OPEN_FLAGS, PKT, RawSftp, str, u32 } from './harness/raw-sftp.js';
import { waitFor } from './harness/wait.js';

const DAY_MS = 24 * 60 * 60 * 1000;

for (const kind of DATABASE_KINDS) {
  describe(`transfer-log retention (${kind})`, () => {
    let dir: string;
    let env: FerryEnv;
    let handle: DatabaseHandle;
    let node: RunningNode | undefined;

    before(async () => {
      dir = tempDir();
      env = { dataDir: path.join(dir, 'data'), databaseUrl: await preparedDatabaseUrl(kind, dir), extra: { FERRY_TRANSFERS_RETENTION: '30d' } };
      fs.mkdirSync(env.dataDir, { recursive: true });
      handle = openDatabase(env.databaseUrl);
      await migrate(handle);
    });

    after(async () => {
      await node?.kill('SIGKILL');
      await handle?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('the primary deletes rows that ended before transfers.retention, in batches, and keeps the rest', async () => {
      const now = Date.now();
      const row = (startedAt: number, status: TransferStatus, path: string) => ({
        node_id: 'gone',
        worker_pid: 1,
        session_id: 's',
        account: 'alice',
        protocol: 'sftp',
        client_address: '192.0.2.1',
        path,
        direction: 'upload' as const,
        start_offset: 0,
        bytes: 1,
        started_at: startedAt,
        ended_at: status === 'in-progress' ? null : startedAt + 1000,
        status,
      });
      // More old rows than one batch holds, so the purge takes several.
      const OLD = 2500;
      for (let i = 0; i < OLD; i += 500) {
        await handle.db
          .insertInto('transfers')
          .values(Array.from({ length: 500 }, (_, j) => row(now - 40 * DAY_MS + i + j, 'completed', `/old-${i + j}`)))
          .execute();
      }
      await handle.db
        .insertInto('transfers')
        .values([
          row(now - 40 * DAY_MS, 'in-progress', '/old-but-open'),
          row(now - 20 * DAY_MS, 'completed', '/recent'),
          row(now - 40 * DAY_MS, 'aborted', '/old-aborted'),
        ])
        .execute();

      node = await startNode(env);
      await waitFor(
        'the old rows purged',
        async () => {
          const left = await handle.db.selectFrom('transfers').select('path').where('path', 'like', '/old%').execute();
          return left.length === 1 && left;
        },
        30_000,
      );
      const paths = (await handle.db.selectFrom('transfers').select('path').execute()).map((r) => r.path).sort();
      assert.deepEqual(paths, ['/old-but-open', '/recent'], 'rows in progress and rows inside the retention stay');
      await node.waitForLog((l) => l.msg === 'purged old transfer-log rows', 5_000);
    });
  });
}

describe('transfer-log rows per session are paced', () => {
  let dir: string;
  let env: FerryEnv;
  let node: RunningNode;
  let key: string;

  before(async () => {
    dir = tempDir();
    env = { dataDir: path.join(dir, 'data'), databaseUrl: await preparedDatabaseUrl('sqlite', dir), extra: { FERRY_TRANSFERS_SESSION_RATE: '20' } };
    key = sshKeygen(dir);
    assert.equal((await runFerry(['account', 'add', 'alice', '--key', key + '.pub'], env)).code, 0);
    node = await startNode(env);
  });

  after(async () => {
    await node?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('opens beyond transfers.session_rate wait their turn, and those that would wait too long are refused', async () => {
    const raw = await RawSftp.connect(node.sftpPort, 'alice', key);
    await raw.version;
    try {
      const h = await raw.open('r.txt', OPEN_FLAGS.WRITE | OPEN_FLAGS.CREAT | OPEN_FLAGS.TRUNC);
      await raw.request(PKT.CLOSE, str(h));
      const started = Date.now();
      // 150 opens at once at 20/s: a burst of 20, 100 more within the 5 s an open may wait, the rest refused.
      const replies = await Promise.all(
        Array.from({ length: 150 }, () => raw.request(PKT.OPEN, str('r.txt'), u32(OPEN_FLAGS.READ), u32(0)).then((r) => ({ r, at: Date.now() - started }))),
      );
      const opened = replies.filter(({ r }) => r.type === 102);
      const refused = replies.filter(({ r }) => r.type === 101);
      assert.ok(opened.length >= 115 && opened.length <= 125, `${opened.length} opened`);
      for (const { r } of refused) assert.match(r.message!, /too many files opened too fast/);
      const last = Math.max(...opened.map((o) => o.at));
      assert.ok(last >= 4_000, `the last accepted open waited ${last} ms (paced, not all at once)`);
      for (const { r } of opened) await raw.request(PKT.CLOSE, str(r.body.subarray(4, 4 + r.body.readUInt32BE(0))));
    } finally {
      raw.end();
    }
    const rows = JSON.parse((await runFerry(['transfers', 'list', '--json', '--limit', '1000'], env)).stdout) as any[];
    assert.ok(rows.length <= 127, `${rows.length} transfer-log rows: one per accepted open`);
  });
});
