import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ClusterEvents } from '../src/cluster/events.js';
import { PrimaryLease } from '../src/cluster/lease.js';
import { migrate, openDatabase } from '../src/db/connect.js';
import { DATABASE_KINDS, freshDatabaseUrl, preparedDatabaseUrl, tempDir } from './harness/databases.js';
import { adminLogin, adminRequest } from './harness/admin-api.js';
import { ferryOk, runFerry, startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';
import { sha256File, writeRandomFile } from './harness/files.js';
import { sftpBatch, sftpSpawn, sshKeygen, type Login } from './harness/openssh.js';
import { waitFor } from './harness/wait.js';

const FAST = {
  FERRY_CLUSTER_LEASE_TTL: '2s',
  FERRY_NODE_HEARTBEAT_INTERVAL: '250ms',
  FERRY_NODE_DEAD_AFTER: '2s',
  FERRY_CLUSTER_SINGLETON_INTERVAL: '500ms',
};
const LEASE_TTL_MS = 2000;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

async function status(env: FerryEnv): Promise<any> {
  const r = await runFerry(['cluster', 'status', '--json', '--events', '50'], env);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

interface Cluster {
  dir: string;
  storage: string;
  databaseUrl: string;
  key: string;
  envs: Record<string, FerryEnv>;
  nodes: Record<string, RunningNode | undefined>;
}

async function makeCluster(mode: 'active-active' | 'active-passive', names: string[]): Promise<Cluster> {
  const dir = tempDir();
  const storage = path.join(dir, 'shared');
  const databaseUrl = await preparedDatabaseUrl('postgres', dir);
  const envs: Record<string, FerryEnv> = {};
  for (const name of names) {
    envs[name] = { dataDir: path.join(dir, name), databaseUrl, storageDir: storage, extra: { ...FAST, FERRY_NODE_NAME: name, FERRY_CLUSTER_MODE: mode } };
  }
  const key = sshKeygen(dir);
  assert.equal((await runFerry(['account', 'add', 'alice', '--key', key + '.pub'], envs[names[0]!]!)).code, 0);
  return { dir, storage, databaseUrl, key, envs, nodes: {} };
}

async function stopCluster(c: Cluster): Promise<void> {
  for (const n of Object.values(c.nodes)) {
    if (!n) continue;
    try {
      process.kill(-n.process.pid!, 'SIGCONT');
    } catch {}
    await n.kill('SIGKILL');
  }
  fs.rmSync(c.dir, { recursive: true, force: true });
}

describe('the fencing token', () => {
  it('makes the database refuse a singleton write from a primary whose lease was taken over', async () => {
    const dir = tempDir();
    const handle = openDatabase(await freshDatabaseUrl('postgres', dir));
    try {
      await migrate(handle);
      const a = new PrimaryLease(handle.db, handle.dialect, 'node-a', 300);
      const b = new PrimaryLease(handle.db, handle.dialect, 'node-b', 5000);
      const events = new ClusterEvents(handle.db);
      const first = await a.tryAcquire();
      assert.ok('token' in first);
      const refused = await b.tryAcquire();
      assert.ok('expiresInMs' in refused && refused.expiresInMs <= 300, 'a held lease cannot be taken; it says when it expires');
      assert.equal(await events.recordFenced({ kind: 'node-lost', nodeId: 'x', nodeName: 'x', detail: 'by a, in time' }, a.fence(first.token)), true);
      await new Promise((r) => setTimeout(r, 400));
      const second = await b.tryAcquire();
      assert.ok('token' in second && second.token > first.token, 'the token grows');
      // A is back from a pause: its renewal and its writes are refused.
      assert.equal(await a.renew(first.token), false);
      assert.equal(await events.recordFenced({ kind: 'node-lost', nodeId: 'x', nodeName: 'x', detail: 'by a, stale' }, a.fence(first.token)), false);
      assert.equal(await events.recordFenced({ kind: 'node-lost', nodeId: 'x', nodeName: 'x', detail: 'by b' }, b.fence(second.token)), true);
      const details = (await events.recent()).map((e) => e.detail).sort();
      assert.deepEqual(details, ['by a, in time', 'by b']);
    } finally {
      await handle.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

for (const kind of DATABASE_KINDS) {
  describe(`how events name another node (${kind})`, () => {
    it('by its name; with its id when another node has the same name; by its id once no row names it', async () => {
      const dir = tempDir();
      const handle = openDatabase(await freshDatabaseUrl(kind, dir));
      try {
        await migrate(handle);
        const node = (id: string, name: string) => ({
          id,
          name,
          version: '0.1.0',
          started_at: 0,
          heartbeat_at: 0,
          stopped_at: null,
          state: 'active' as const,
          ready: 0,
          sessions: 0,
          sftp_address: null,
          admin_address: null,
          drain_deadline: null,
          lost_at: null,
          mode: 'active-active',
        });
        await handle.db
          .insertInto('nodes')
          .values([node('id-1', 'alpha'), node('id-2', 'beta'), node('id-3', 'beta')])
          .execute();
        const events = new ClusterEvents(handle.db);
        assert.equal(await events.nodeLabel('id-1'), 'alpha');
        assert.equal(await events.nodeLabel('id-2'), 'beta (id-2)');
        assert.equal(await events.nodeLabel('id-3'), 'beta (id-3)');
        assert.equal(await events.nodeLabel('id-gone'), 'node id-gone');
      } finally {
        await handle.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

describe('an active-active cluster of three nodes on PostgreSQL', () => {
  let c: Cluster;
  before(async () => {
    c = await makeCluster('active-active', ['n1', 'n2', 'n3']);
    c.nodes.n1 = await startNode(c.envs.n1!);
    c.nodes.n2 = await startNode(c.envs.n2!);
    c.nodes.n3 = await startNode(c.envs.n3!);
  });
  after(async () => stopCluster(c));

  it('forms by configuration alone: one primary, every node ready and serving', async () => {
    const s = await waitFor('three ready nodes', async () => {
      const v = await status(c.envs.n1!);
      return v.nodes.filter((n: any) => n.ready).length === 3 ? v : undefined;
    });
    assert.equal(s.mode, 'active-active');
    assert.equal(s.nodes.filter((n: any) => n.role === 'primary').length, 1);
    assert.equal(s.primary.node, 'n1', 'the first node to start took the lease');
    for (const name of ['n1', 'n2', 'n3']) {
      assert.equal((await c.nodes[name]!.ready()).code, 200);
      const r = await sftpBatch({ port: c.nodes[name]!.sftpPort, user: 'alice', keyFile: c.key, dir: c.dir }, ['pwd']);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.ok(s.events.some((e: any) => e.kind === 'primary-changed' && e.node === 'n1'));
    assert.equal(s.events.filter((e: any) => e.kind === 'node-joined').length, 3);
  });

  it('fails over within the lease TTL + 1 s when the primary is SIGKILLed, and declares it lost', async () => {
    const killedAt = Date.now();
    await c.nodes.n1!.kill('SIGKILL');
    c.nodes.n1 = undefined;
    const s = await waitFor(
      'a new primary',
      async () => {
        const v = await status(c.envs.n2!);
        return v.primary && v.primary.node !== 'n1' ? v : undefined;
      },
      10_000,
      50,
    );
    const took = Date.now() - killedAt;
    assert.ok(took <= LEASE_TTL_MS + 1000 + 500, `new primary after ${took} ms`);
    const lost = await waitFor('n1 declared lost', async () => {
      const v = await status(c.envs.n2!);
      return v.events.find((e: any) => e.kind === 'node-lost' && e.node === 'n1');
    });
    assert.match(lost.detail, new RegExp(`token ${s.primary.token}`));
    // Events name the old primary as status does, by its name, not its id.
    const events = (await status(c.envs.n2!)).events;
    const taken = events.find((e: any) => e.kind === 'primary-changed' && e.node === s.primary.node);
    assert.equal(taken.detail, `token ${s.primary.token}, after n1`);
    const failover = events.find((e: any) => e.kind === 'failover' && e.node === s.primary.node);
    assert.equal(failover.detail, `token ${s.primary.token}: n1 stopped renewing the primary lease`);
    for (const e of events) assert.doesNotMatch(`${e.node} ${e.detail}`, UUID, `${e.kind}: ${e.detail}`);
    const n1 = (await status(c.envs.n2!)).nodes.find((n: any) => n.name === 'n1');
    assert.equal(n1.state, 'lost');
    assert.equal(n1.ready, false);
  });

  it('fences a paused primary: after SIGCONT it writes nothing as primary and steps down by itself', async () => {
    const s0 = await status(c.envs.n2!);
    const oldName = s0.primary.node as string;
    const oldToken = s0.primary.token as number;
    const old = c.nodes[oldName]!;
    process.kill(-old.process.pid!, 'SIGSTOP');
    const s1 = await waitFor(
      'another primary',
      async () => {
        const v = await status(c.envs.n2!);
        return v.primary && v.primary.node !== oldName ? v : undefined;
      },
      10_000,
      50,
    );
    assert.ok(s1.primary.token > oldToken);
    const resumedAt = Date.now();
    process.kill(-old.process.pid!, 'SIGCONT');
    await old.waitForLog((l) => l.msg === 'stepped down as primary' && l.token === oldToken, 10_000);
    const s2 = await status(c.envs.n2!);
    assert.equal(s2.primary.node, s1.primary.node, 'the new primary keeps the lease');
    const written = s2.events.filter((e: any) => Date.parse(e.at) >= resumedAt && new RegExp(`token ${oldToken}\\b`).test(e.detail));
    assert.deepEqual(written, [], 'no singleton write carries the old token after the resume');
    assert.equal((await old.ready()).code, 200, 'in active-active the resumed node serves again as a standby');
  });

  it('drains a node (its upload finishes), then removes it, with events', async () => {
    const s = await status(c.envs.n2!);
    const target = s.nodes.find((n: any) => n.role !== 'primary' && n.state === 'active')!.name as string;
    const node = c.nodes[target]!;
    const source = path.join(c.dir, 'drain.bin');
    const hash = writeRandomFile(source, 12 * 1024 * 1024, 4);
    const client = sftpSpawn({ port: node.sftpPort, user: 'alice', keyFile: c.key, dir: c.dir }, [`put ${source} drain.bin`], ['-l', '32000']);
    await node.waitForLog((l) => l.msg === 'upload started' && l.path === '/drain.bin');
    const drain = await runFerry(['cluster', 'drain', target, '--timeout', '30s'], c.envs.n2!);
    assert.equal(drain.code, 0, drain.stderr);
    assert.match(drain.stdout, new RegExp(`${target} drained`));
    assert.equal(await client.exited, 0, 'the in-flight upload completed');
    assert.equal(sha256File(path.join(c.storage, 'alice', 'drain.bin')), hash);
    assert.equal((await node.ready()).code, 503);
    assert.equal(await canConnect(node.sftpPort), false, 'a drained node takes no new sessions');
    const refused = await runFerry(['cluster', 'remove', s.primary.node], c.envs.n2!);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /drain it first/);
    const removed = await runFerry(['cluster', 'remove', target], c.envs.n2!);
    assert.equal(removed.code, 0, removed.stderr);
    const after = await status(c.envs.n2!);
    assert.equal(
      after.nodes.some((n: any) => n.name === target),
      false,
    );
    const kinds = after.events.filter((e: any) => e.node === target).map((e: any) => e.kind);
    for (const kind of ['node-draining', 'node-drained', 'node-removed']) assert.ok(kinds.includes(kind), kind);
    await node.stop();
    c.nodes[target] = undefined;
  });
});

describe('an active-passive pair', () => {
  let c: Cluster;
  before(async () => {
    c = await makeCluster('active-passive', ['p1', 'p2']);
    c.nodes.p1 = await startNode(c.envs.p1!);
    c.nodes.p2 = await startNode(c.envs.p2!);
  });
  after(async () => stopCluster(c));

  it('serves only on the primary; the standby is hot but refuses sessions', async () => {
    await waitFor('p1 primary and ready', async () => (await c.nodes.p1!.ready()).code === 200);
    const standby = await c.nodes.p2!.ready();
    assert.equal(standby.code, 503);
    assert.equal(standby.body.reason, 'standby in active-passive mode');
    assert.equal(await canConnect(c.nodes.p2!.sftpPort), false);
    assert.equal((await sftpBatch({ port: c.nodes.p1!.sftpPort, user: 'alice', keyFile: c.key, dir: c.dir }, ['pwd'])).code, 0);
  });

  it('promotes the standby when the primary dies mid-upload; the client resumes there; failback overwrites nothing', async () => {
    const source = path.join(c.dir, 'ha.bin');
    const hash = writeRandomFile(source, 24 * 1024 * 1024, 8);
    const client = sftpSpawn({ port: c.nodes.p1!.sftpPort, user: 'alice', keyFile: c.key, dir: c.dir }, [`put ${source} ha.bin`], ['-l', '64000']);
    await waitFor('4 MiB on shared storage', async () => {
      const dir = path.join(c.storage, '.partial');
      if (!fs.existsSync(dir)) return false;
      return fs
        .readdirSync(dir)
        .some((a) => fs.readdirSync(path.join(dir, a)).some((f) => f.endsWith('.part') && fs.statSync(path.join(dir, a, f)).size > 4 * 1024 * 1024));
    });
    const killedAt = Date.now();
    await c.nodes.p1!.kill('SIGKILL');
    c.nodes.p1 = undefined;
    await client.killHard();
    await waitFor('p2 ready', async () => (await c.nodes.p2!.ready()).code === 200, 10_000, 50);
    const readyAfter = Date.now() - killedAt;
    assert.ok(readyAfter <= LEASE_TTL_MS + 1000 + 500, `standby ready after ${readyAfter} ms`);
    const login: Login = { port: c.nodes.p2!.sftpPort, user: 'alice', keyFile: c.key, dir: c.dir };
    const resumed = await sftpBatch(login, [`reput ${source} ha.bin`]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(sha256File(path.join(c.storage, 'alice', 'ha.bin')), hash);

    const before = JSON.parse((await runFerry(['transfers', 'list', '--json'], c.envs.p2!)).stdout) as any[];
    c.nodes.p1 = await startNode(c.envs.p1!);
    const p1 = await c.nodes.p1.ready();
    assert.equal(p1.code, 503, 'the old primary comes back as a standby');
    assert.equal(p1.body.role, 'standby');
    assert.equal((await c.nodes.p2!.ready()).code, 200);
    await new Promise((r) => setTimeout(r, 1000));
    const afterRows = JSON.parse((await runFerry(['transfers', 'list', '--json'], c.envs.p1!)).stdout) as any[];
    for (const row of before) {
      const same = afterRows.find((r) => r.id === row.id);
      assert.deepEqual(same, row, `transfer ${row.id} unchanged by the failback`);
    }
    const upload = afterRows.filter((r) => r.path === '/ha.bin').sort((a, b) => a.id - b.id);
    assert.deepEqual(
      upload.map((r) => r.status),
      ['aborted', 'completed'],
    );
  });
});

describe('a node whose heartbeat stops (SIGKILL) before node.dead_after', () => {
  let c: Cluster;
  // Long enough that "lost" cannot come first: the late heartbeat alone must show.
  const slowDeath = { FERRY_NODE_DEAD_AFTER: '60s' };
  before(async () => {
    c = await makeCluster('active-active', ['h1', 'h2']);
    for (const name of ['h1', 'h2']) c.envs[name]!.extra = { ...c.envs[name]!.extra, ...slowDeath };
    c.nodes.h1 = await startNode(c.envs.h1!);
    c.nodes.h2 = await startNode(c.envs.h2!);
  });
  after(async () => stopCluster(c));

  it('shows as suspect and not ready once its heartbeat is 3 intervals late, in the table, --json and the API', async () => {
    await waitFor('both nodes ready', async () => (await status(c.envs.h1!)).nodes.filter((n: any) => n.ready && n.state === 'active').length === 2);
    const password = /password: (\S+)/.exec(await ferryOk(c.envs.h1!, ['admin', 'add', 'ops', '--role', 'operator']))![1]!;
    const token = await adminLogin(c.nodes.h1!.adminPort, 'ops', password);
    await c.nodes.h2!.kill('SIGKILL');
    c.nodes.h2 = undefined;
    const h2 = await waitFor(
      'h2 suspect',
      async () => (await status(c.envs.h1!)).nodes.find((n: any) => n.name === 'h2' && n.state === 'suspect'),
      10_000,
      100,
    );
    assert.equal(h2.ready, false, 'a node that may be dead is not counted ready');
    assert.ok(h2.heartbeatAgeMs >= 750 && h2.heartbeatAgeMs < 60_000, `heartbeat ${h2.heartbeatAgeMs} ms old`);
    const table = await ferryOk(c.envs.h1!, ['cluster', 'status']);
    assert.match(table, /^h2\s+standby\s+suspect\s+no\s/m);
    assert.match(table, /^h1\s+primary\s+active\s+yes\s/m, 'the live node stays active');
    const api = await adminRequest(c.nodes.h1!.adminPort, '/api/v1/cluster', { token });
    assert.equal(api.status, 200);
    assert.deepEqual(
      api.body.nodes.map((n: any) => [n.name, n.state, n.ready]),
      [
        ['h1', 'active', true],
        ['h2', 'suspect', false],
      ],
    );
  });
});
