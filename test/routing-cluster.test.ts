import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freshDatabaseUrl, tempDir } from './harness/databases.js';
import { runFerry, startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';
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

async function ferry(env: FerryEnv, args: string[], input?: string): Promise<string> {
  const r = await runFerry(args, env, input);
  assert.equal(r.code, 0, `ferry ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

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
    const databaseUrl = await freshDatabaseUrl('postgres', dir);
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
    await ferry(envs.n1!, ['partner', 'add', 'bank', '--url', `sftp://root@127.0.0.1:${proxy.port}${sshd.filesDir}`, '--key', partnerKey, '--host-key', sshd.hostKeyPub]);
    nodes.n1 = await startNode(envs.n1!);
    nodes.n2 = await startNode(envs.n2!);
  });

  after(async () => {
    for (const n of Object.values(nodes)) await n?.kill('SIGKILL');
    await proxy?.close();
    await sshd?.stop();
    if (!process.env.KEEP) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('resumes a 200 MiB push on another node after the pushing node is killed, and the partner gets one whole file', async () => {
    await ferry(envs.n1!, ['route', 'add', 'big', '--account', 'alice', '--path', 'big/*', '--push', 'bank']);
    const local = path.join(dir, 'report.bin');
    const sha = writeRandomFile(local, 200 * MiB, 42);
    const r = await sftpBatch({ port: nodes.n1!.sftpPort, user: 'alice', keyFile: clientKey, dir }, ['mkdir big', `put ${local} big/report.bin`]);
    assert.equal(r.code, 0, r.stderr);

    const temp = await waitFor('the push to be under way', () => fs.readdirSync(sshd.filesDir).find((f) => f.endsWith('.ferrypart')), 20_000, 20);
    await waitFor('60 MiB at the partner', () => fs.statSync(path.join(sshd.filesDir, temp)).size > 60 * MiB, 20_000, 20);
    const running = (await deliveries(envs.n1!)).find((t) => t.status === 'in-progress');
    assert.ok(running, 'the delivery is in progress');
    const status = JSON.parse(await ferry(envs.n1!, ['cluster', 'status', '--json']));
    const pusher = status.nodes.find((n: any) => n.id === running.node).name as string;
    const other = pusher === 'n1' ? 'n2' : 'n1';
    await nodes[pusher]!.kill('SIGKILL');
    const sentBeforeKill = fs.statSync(path.join(sshd.filesDir, temp)).size;
    assert.ok(sentBeforeKill < 200 * MiB, 'killed mid-way');

    const done = await waitFor('the delivery to complete on the other node', async () => (await deliveries(envs[other]!)).find((t) => t.status === 'completed'), 60_000, 250);
    assert.deepEqual(fs.readdirSync(sshd.filesDir), ['report.bin'], 'one file under its final name, no temporary file');
    assert.equal(sha256File(path.join(sshd.filesDir, 'report.bin')), sha);
    assert.equal(done.sha256, sha);
    assert.equal(done.attempts, 2);
    assert.ok(done.offset > 0, `resumed from the partial file (offset ${done.offset})`);
    assert.equal(done.bytes, 200 * MiB - done.offset, 'the second attempt sent only the rest');
    const history = JSON.parse(await ferry(envs[other]!, ['transfers', 'show', String(done.id), '--json'])).history;
    assert.deepEqual(history.map((a: any) => a.status), ['lost', 'completed']);
    assert.notEqual(history[0].node, history[1].node);
    nodes[pusher] = await startNode(envs[pusher]!);
    await ferry(envs.n1!, ['route', 'remove', 'big']);
  });
});
