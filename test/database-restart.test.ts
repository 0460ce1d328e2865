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
    await waitFor(
      'nodes report not ready',
      async () => {
        const states = await Promise.all(nodes.map((n) => n.ready().catch(() => ({ code: 0, body: {} }))));
        return states.every((s) => s.code === 503 && (s.body as any).reason === 'database unreachable');
      },
      10_000,
    );
    await stopStart;
    await waitFor(
      'nodes ready again',
      async () => {
        const states = await Promise.all(nodes.map((n) => n.ready()));
        return states.every((s) => s.code === 200);
      },
      20_000,
    );

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

describe('PostgreSQL away: logins, a restart of a few seconds, a node started without it', () => {
  let pg: PostgresServer;
  let dir: string;
  const nodes: Record<string, RunningNode | undefined> = {};
  const envs: Record<string, FerryEnv> = {};
  let key: string;
  const LEASE_TTL = 3_000;
  let halted = false;

  before(async () => {
    pg = await startPostgres();
    dir = tempDir();
    const databaseUrl = await createDatabase(pg.adminUrl);
    // The primary heartbeats slower than the standby: without a grace for it, the standby would take the lease first.
    const heartbeat: Record<string, string> = { p1: '500ms', p2: '100ms', p3: '250ms' };
    for (const name of ['p1', 'p2', 'p3']) {
      envs[name] = {
        dataDir: path.join(dir, name),
        databaseUrl,
        storageDir: path.join(dir, 'shared'),
        extra: {
          FERRY_NODE_NAME: name,
          FERRY_CLUSTER_LEASE_TTL: `${LEASE_TTL}ms`,
          FERRY_NODE_HEARTBEAT_INTERVAL: heartbeat[name]!,
          FERRY_NODE_DEAD_AFTER: '30s',
        },
      };
    }
    key = sshKeygen(dir);
    assert.equal((await runFerry(['account', 'add', 'alice', '--key', key + '.pub'], envs.p1!)).code, 0);
    nodes.p1 = await startNode(envs.p1!);
    nodes.p2 = await startNode(envs.p2!);
  });

  after(async () => {
    for (const n of Object.values(nodes)) await n?.kill('SIGKILL');
    if (halted) pg.start();
    await pg.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('tells SFTP clients the service is unavailable, keeps the primary through the restart (no failover), and a node started meanwhile waits and then serves', async () => {
    await waitFor('p1 primary, both ready', async () => {
      const [r1, r2] = await Promise.all([nodes.p1!.ready(), nodes.p2!.ready()]);
      return r1.code === 200 && r1.body.role === 'primary' && r2.code === 200;
    });
    const login = { port: nodes.p1!.sftpPort, user: 'alice', keyFile: key, dir };
    const haltedAt = Date.now();
    pg.halt();
    halted = true;

    // A login while the database is away: the user is told why, and it is not their key.
    // At OpenSSH's default log level, as a user runs it (the harness's LogLevel=ERROR would hide banners).
    const refused = await sftpBatch(login, ['pwd'], ['-o', 'LogLevel=INFO'], 30_000);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /service temporarily unavailable/);
    assert.doesNotMatch(refused.stderr, /Permission denied/);

    // A node started now: its admin port answers, not ready, and it does not exit.
    nodes.p3 = await startNode(envs.p3!, { waitFor: 'started' });
    const waiting = await waitFor(
      'p3 says why it is not ready',
      async () => {
        const r = await nodes.p3!.ready().catch(() => undefined);
        return r?.code === 503 && r.body.reason === 'database unreachable' ? r : undefined;
      },
      10_000,
    );
    assert.equal(waiting.body.ready, false);
    await nodes.p3.waitForLog((l) => l.msg === 'database unreachable: waiting to start', 10_000);

    // Down for 5 s in all, longer than the lease TTL: every lease runs out on the database clock.
    await new Promise((r) => setTimeout(r, Math.max(0, haltedAt + 5_000 - Date.now())));
    assert.equal(nodes.p3.process.exitCode, null, 'the node started without its database is still running');
    pg.start();
    halted = false;

    await nodes.p3.waitForLog((l) => l.msg === 'node ready', 30_000);
    await waitFor('all three ready', async () => (await Promise.all(['p1', 'p2', 'p3'].map((n) => nodes[n]!.ready()))).every((r) => r.code === 200), 20_000);
    const served = await sftpBatch({ ...login, port: nodes.p3.sftpPort }, ['pwd']);
    assert.equal(served.code, 0, served.stderr);
    const again = await sftpBatch(login, ['pwd']);
    assert.equal(again.code, 0, again.stderr);

    const status = JSON.parse((await runFerry(['cluster', 'status', '--json', '--events', '100'], envs.p1!)).stdout);
    assert.equal(status.primary?.node, 'p1', 'the primary kept (re-took) its lease');
    const since = status.events.filter((e: any) => Date.parse(e.at) >= haltedAt);
    assert.deepEqual(
      since.filter((e: any) => e.kind === 'failover' || e.kind === 'primary-changed'),
      [],
      'a database restart is no failover',
    );
    assert.ok(since.some((e: any) => e.kind === 'database-recovered' && e.node === 'p1'));
    assert.ok(
      nodes.p1!.logs.some((l) => l.msg === 're-took its own primary lease'),
      'the lease ran out during the outage',
    );
  });
});
