import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from './harness/databases.js';
import { runFerry, startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';
import { sha256File, writeRandomFile } from './harness/files.js';
import { sftpBatch, sftpSpawn, sshKeygen } from './harness/openssh.js';
import { createDatabase, startPostgres, type PostgresServer } from './harness/postgres.js';
import { waitFor } from './harness/wait.js';


describe('PostgreSQL restarted under load', () => {
  let pg: PostgresServer;
  let dir: string;
  const nodes: RunningNode[] = [];
  let envs: FerryEnv[];
  let key: string;

  before(async () => {
    // A server of its own: this test stops it, which must not disturb other tests.
    pg = await startPostgres();
    dir = tempDir();
    const databaseUrl = await createDatabase(pg.adminUrl);
    const extra = { FERRY_CLUSTER_LEASE_TTL: '2s', FERRY_NODE_HEARTBEAT_INTERVAL: '250ms', FERRY_NODE_DEAD_AFTER: '2s' };
    envs = ['d1', 'd2'].map((name) => ({
      dataDir: path.join(dir, name),
      databaseUrl,
      storageDir: path.join(dir, 'shared'),
      extra: { ...extra, FERRY_NODE_NAME: name },
    }));
    key = sshKeygen(dir);
    assert.equal((await runFerry(['account', 'add', 'alice', '--key', key + '.pub'], envs[0]!)).code, 0);
    for (const env of envs) nodes.push(await startNode(env));
  });

  after(async () => {
    for (const n of nodes) await n.kill('SIGKILL');
    await pg.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reports not ready while the database is away, records the transfer once it is back, and no node exits', async () => {
    const source = path.join(dir, 'load.bin');
    const hash = writeRandomFile(source, 16 * 1024 * 1024, 12);
    const login = { port: nodes[0]!.sftpPort, user: 'alice', keyFile: key, dir };
    // About 4 s at 32,000 Kbit/s: the upload spans the outage.
    const client = sftpSpawn(login, [`put ${source} load.bin`], ['-l', '32000']);
    await nodes[0]!.waitForLog((l) => l.msg === 'upload started');

    // Down long enough that every node's next heartbeats (1 s apart) fail even on a busy machine.
    const stopStart = pg.restart(6000);
    await waitFor('nodes report not ready', async () => {
      const states = await Promise.all(nodes.map((n) => n.ready().catch(() => ({ code: 0, body: {} }))));
      return states.every((s) => s.code === 503 && (s.body as any).reason === 'database unreachable');
    }, 10_000);
    await stopStart;
    await waitFor('nodes ready again', async () => {
      const states = await Promise.all(nodes.map((n) => n.ready()));
      return states.every((s) => s.code === 200);
    }, 20_000);

    assert.equal(await client.exited, 0, 'the upload in flight completed');
    assert.equal(sha256File(path.join(dir, 'shared', 'alice', 'load.bin')), hash);
    const rows = JSON.parse((await runFerry(['transfers', 'list', '--json'], envs[0]!)).stdout) as any[];
    const row = rows.find((r) => r.path === '/load.bin');
    assert.equal(row.status, 'completed');
    assert.equal(row.sha256, hash);
    const status = JSON.parse((await runFerry(['cluster', 'status', '--json', '--events', '50'], envs[0]!)).stdout);
    for (const name of ['d1', 'd2']) {
      const kinds = status.events.filter((e: any) => e.node === name).map((e: any) => e.kind);
      assert.ok(kinds.includes('database-unreachable') && kinds.includes('database-recovered'), `${name}: ${kinds}`);
    }
    for (const n of nodes) assert.equal(n.process.exitCode, null, 'the node is still running');
    assert.ok(nodes.every((n) => n.logs.some((l) => l.msg === 'database unreachable') && n.logs.some((l) => l.msg === 'database recovered')));
    const after = await sftpBatch({ ...login, port: nodes[1]!.sftpPort }, ['ls']);
    assert.equal(after.code, 0, after.stderr);
  });
});
