import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { preparedDatabaseUrl, tempDir } from './harness/databases.js';
import { ferryOk, startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';
import { sha256File, writeRandomFile } from './harness/files.js';
import { sftpBatch, sshKeygen } from './harness/openssh.js';
import { startSshd, type SshdServer } from './harness/sshd.js';
import { startThrottleProxy, type ThrottleProxy } from './harness/throttle-proxy.js';
import { waitFor } from './harness/wait.js';

const MiB = 1024 * 1024;
const FAST = {
  FERRY_CLUSTER_LEASE_TTL: '2s',
  FERRY_NODE_HEARTBEAT_INTERVAL: '250ms',
  FERRY_NODE_DEAD_AFTER: '2s',
  FERRY_CLUSTER_SINGLETON_INTERVAL: '500ms',
  FERRY_QUEUE_LEASE_TTL: '3s',
  FERRY_QUEUE_POLL_INTERVAL: '200ms',
  FERRY_QUEUE_RETRY_DELAY: '500ms',
  FERRY_MONITOR_INTERVAL: '300ms',
};

const ferry = ferryOk;

async function deliveries(env: FerryEnv): Promise<any[]> {
  const all = JSON.parse(await ferry(env, ['transfers', 'list', '--json', '--limit', '1000']));
  return all.filter((t: any) => t.direction === 'delivery');
}

async function primaryName(env: FerryEnv): Promise<string> {
  const status = JSON.parse(await ferry(env, ['cluster', 'status', '--json']));
  const primary = status.nodes.find((n: any) => n.role === 'primary');
  return primary?.name;
}

describe('routing in an active-active cluster on PostgreSQL', () => {
  let dir: string;
  let envs: Record<string, FerryEnv>;
  const nodes: Record<string, RunningNode | undefined> = {};
  let sshd: SshdServer;
  let proxy: ThrottleProxy;
  let partnerKey: string;
  let clientKey: string;

  before(async () => {
    dir = tempDir();
    const databaseUrl = await preparedDatabaseUrl('postgres', dir);
    const storage = path.join(dir, 'shared');
    envs = {};
    for (const name of ['n1', 'n2']) {
      envs[name] = { dataDir: path.join(dir, name), databaseUrl, storageDir: storage, extra: { ...FAST, FERRY_NODE_NAME: name } };
    }
    clientKey = sshKeygen(dir);
    partnerKey = sshKeygen(dir, 'partner_key');
    sshd = await startSshd(path.join(dir, 'partner'), partnerKey + '.pub');
    // 40 MB/s towards the partner: a 200 MiB push lasts about five seconds.
    proxy = await startThrottleProxy({ host: '127.0.0.1', port: sshd.port }, 40 * MiB);
    await ferry(envs.n1!, ['account', 'add', 'alice', '--key', clientKey + '.pub']);
    await ferry(envs.n1!, [
      'partner',
      'add',
      'bank',
      '--url',
      `sftp://root@127.0.0.1:${proxy.port}${sshd.filesDir}`,
      '--key',
      partnerKey,
      '--host-key',
      sshd.hostKeyPub,
    ]);
    nodes.n1 = await startNode(envs.n1!);
    nodes.n2 = await startNode(envs.n2!);
  });

  after(async () => {
    for (const n of Object.values(nodes)) await n?.kill('SIGKILL');
    await proxy?.close();
    await sshd?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('resumes a 200 MiB push on another node after the pushing node is killed, and the partner gets one whole file', async () => {
    await ferry(envs.n1!, ['route', 'add', 'big', '--account', 'alice', '--path', 'big/*', '--push', 'bank']);
    const local = path.join(dir, 'report.bin');
    const sha = writeRandomFile(local, 200 * MiB, 42);
    const r = await sftpBatch({ port: nodes.n1!.sftpPort, user: 'alice', keyFile: clientKey, dir }, ['mkdir big', `put ${local} big/report.bin`]);
    assert.equal(r.code, 0, r.stderr);

    const temp = await waitFor('the push to be under way', () => fs.readdirSync(sshd.filesDir).find((f) => f.endsWith('.ferrypart')), 20_000, 20);
    // Which node pushes, asked before the kill is due: two commands take seconds on a loaded machine, the rest of the push less.
    const running = (await deliveries(envs.n1!)).find((t) => t.status === 'in-progress');
    assert.ok(running, 'the delivery is in progress');
    const status = JSON.parse(await ferry(envs.n1!, ['cluster', 'status', '--json']));
    const pusher = status.nodes.find((n: any) => n.id === running.node).name as string;
    const other = pusher === 'n1' ? 'n2' : 'n1';
    await waitFor('60 MiB at the partner', () => fs.statSync(path.join(sshd.filesDir, temp)).size > 60 * MiB, 20_000, 20);
    await nodes[pusher]!.kill('SIGKILL');
    const sentBeforeKill = fs.statSync(path.join(sshd.filesDir, temp)).size;
    assert.ok(sentBeforeKill < 200 * MiB, 'killed mid-way');

    const done = await waitFor(
      'the delivery to complete on the other node',
      async () => (await deliveries(envs[other]!)).find((t) => t.status === 'completed'),
      60_000,
      250,
    );
    assert.deepEqual(fs.readdirSync(sshd.filesDir), ['report.bin'], 'one file under its final name, no temporary file');
    assert.equal(sha256File(path.join(sshd.filesDir, 'report.bin')), sha);
    assert.equal(done.sha256, sha);
    assert.equal(done.attempts, 2);
    assert.ok(done.offset > 0, `resumed from the partial file (offset ${done.offset})`);
    assert.equal(done.bytes, 200 * MiB - done.offset, 'the second attempt sent only the rest');
    const history = JSON.parse(await ferry(envs[other]!, ['transfers', 'show', String(done.id), '--json'])).history;
    assert.deepEqual(
      history.map((a: any) => a.status),
      ['lost', 'completed'],
    );
    assert.notEqual(history[0].node, history[1].node);
    nodes[pusher] = await startNode(envs[pusher]!);
    await ferry(envs.n1!, ['route', 'remove', 'big']);
  });

  it('runs every firing of a 2-second schedule exactly once across a primary failover (counted at the partner)', async () => {
    const partnerDir = path.join(sshd.filesDir, 'ticks');
    fs.mkdirSync(partnerDir);
    await ferry(envs.n1!, ['partner', 'add', 'ticks', '--url', `sftp://root@127.0.0.1:${sshd.port}${partnerDir}`, '--key', partnerKey]);
    const outbox = path.join(dir, 'shared', 'alice', 'outbox');
    fs.mkdirSync(outbox, { recursive: true });
    fs.writeFileSync(path.join(outbox, 'beat.txt'), 'heartbeat\n');
    await ferry(envs.n1!, [
      'schedule',
      'add',
      'tick',
      '--cron',
      '*/2 * * * * *',
      '--push',
      'ticks',
      '--from',
      'alice/outbox',
      '--path',
      'beat.txt',
      '--rename',
      '{base}-{date}{time}-{id}{ext}',
      '--catch-up',
      'all',
    ]);
    await new Promise((r) => setTimeout(r, 5_000));
    const primary = await primaryName(envs.n1!);
    assert.ok(primary, 'a primary runs the scheduler');
    await nodes[primary]!.kill('SIGKILL');
    const survivor = primary === 'n1' ? 'n2' : 'n1';
    await waitFor('the other node to become primary', async () => (await primaryName(envs[survivor]!)) === survivor, 20_000, 200);
    await new Promise((r) => setTimeout(r, 5_000));
    await ferry(envs[survivor]!, ['schedule', 'remove', 'tick']);
    nodes[primary] = await startNode(envs[primary]!);

    const fromSchedule = async () => (await deliveries(envs[survivor]!)).filter((t) => t.client === 'schedule:tick');
    await waitFor(
      'every queued firing delivered',
      async () => {
        const rows = await fromSchedule();
        return rows.length > 0 && rows.every((t) => t.status === 'completed');
      },
      60_000,
      250,
    );

    const stamps = fs.readdirSync(partnerDir).map((name) => {
      const m = /^beat-(\d{8})(\d{6})-\d+\.txt$/.exec(name);
      assert.ok(m, `unexpected file at the partner: ${name}`);
      const [d, t] = [m[1]!, m[2]!];
      return Date.parse(`${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}T${t.slice(0, 2)}:${t.slice(2, 4)}:${t.slice(4)}Z`);
    });
    stamps.sort((a, b) => a - b);
    assert.ok(stamps.length >= 6, `at least six firings (got ${stamps.length})`);
    assert.equal(new Set(stamps).size, stamps.length, 'no firing ran twice');
    for (let i = 1; i < stamps.length; i++) assert.equal(stamps[i]! - stamps[i - 1]!, 2000, 'no firing was skipped, the failover gap included');
    assert.equal((await fromSchedule()).length, stamps.length, 'one delivery per firing');
  });

  it('routes every file a folder monitor finds exactly once across a primary failover', async () => {
    await ferry(envs.n1!, ['account', 'add', 'bob', '--password-stdin'], 'bob-secret\n');
    await ferry(envs.n1!, ['monitor', 'add', 'drop', '--account', 'alice', '--dir', '/drop', '--path', '*.dat', '--stable', '1s']);
    await ferry(envs.n1!, ['route', 'add', 'from-drop', '--account', 'alice', '--on', 'monitor', '--path', '*.dat', '--copy-to', 'bob/in']);
    const drop = path.join(dir, 'shared', 'alice', 'drop');
    fs.mkdirSync(drop, { recursive: true });
    const hashes = new Map<string, string>();
    const total = 20;
    for (let i = 0; i < total; i++) {
      const name = `file-${String(i).padStart(2, '0')}.dat`;
      hashes.set(name, writeRandomFile(path.join(drop, name), 10_000 + i, 100 + i));
      fs.writeFileSync(path.join(drop, `ignored-${i}.tmp`), 'not matched');
      if (i === total / 2) {
        const primary = await primaryName(envs.n1!);
        await nodes[primary]!.kill('SIGKILL');
        nodes[primary] = undefined;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const routed = async () => (await deliveries(Object.values(envs)[0]!)).filter((t) => t.client === 'route:from-drop');
    await waitFor(
      'every dropped file delivered',
      async () => {
        const rows = await routed();
        return rows.length >= total && rows.every((t) => t.status === 'completed');
      },
      60_000,
      250,
    );
    await new Promise((r) => setTimeout(r, 3_000));
    const rows = await routed();
    assert.equal(rows.length, total, 'each file routed once, none twice');
    assert.deepEqual(rows.map((t) => t.path).sort(), [...hashes.keys()].map((n) => `/drop/${n}`).sort());
    for (const [name, sha] of hashes) assert.equal(sha256File(path.join(dir, 'shared', 'bob', 'in', name)), sha, name);
  });
});
