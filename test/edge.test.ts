import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { preparedDatabaseUrl, tempDir } from './harness/databases.js';
import { ferryOk, startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';
import { sha256File, writeRandomFile } from './harness/files.js';
import { sftpBatch, sftpSpawn, sshKeygen, type Login, type SpawnedClient } from './harness/openssh.js';
import { freePort } from './harness/ports.js';
import { waitFor } from './harness/wait.js';

const FAST = {
  FERRY_CLUSTER_LEASE_TTL: '2s',
  FERRY_NODE_HEARTBEAT_INTERVAL: '250ms',
  FERRY_NODE_DEAD_AFTER: '2s',
};

async function health(port: number): Promise<{ code: number; body: any }> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    return { code: res.status, body: await res.json() };
  } catch {
    return { code: 0, body: undefined };
  }
}

describe('an edge gateway in front of two nodes that dial out to it', () => {
  let dir: string;
  let envs: Record<string, FerryEnv>;
  const nodes: Record<string, RunningNode | undefined> = {};
  let edge: RunningNode | undefined;
  let edgeEnv: FerryEnv;
  let edgeCwd: string;
  const ports = { sftp: 0, tunnel: 0, health: 0 };
  let login: Login;

  const startEdge = async () => {
    edge = await startNode(edgeEnv, { command: 'edge', cwd: edgeCwd });
  };

  before(async () => {
    dir = tempDir();
    const databaseUrl = await preparedDatabaseUrl('postgres', dir);
    // The mutual-TLS material as an operator makes it: ferry pki.
    const pki = path.join(dir, 'pki');
    const noDb: FerryEnv = { dataDir: path.join(dir, 'pki-cli'), databaseUrl: 'sqlite:/nonexistent/never-opened.db' };
    await ferryOk(noDb, ['pki', 'init', pki]);
    await ferryOk(noDb, ['pki', 'issue', 'edge', 'edge1', '--dir', pki, '--host', '127.0.0.1']);
    for (const name of ['n1', 'n2']) await ferryOk(noDb, ['pki', 'issue', 'node', name, '--dir', pki]);
    const tlsEnv = (name: string) => ({
      FERRY_TLS_CA: path.join(pki, 'ca.crt'),
      FERRY_TLS_CERT: path.join(pki, `${name}.crt`),
      FERRY_TLS_KEY: path.join(pki, `${name}.key`),
    });
    ports.sftp = await freePort();
    ports.tunnel = await freePort();
    ports.health = await freePort();
    edgeCwd = path.join(dir, 'edge-cwd');
    fs.mkdirSync(edgeCwd);
    edgeEnv = {
      dataDir: path.join(dir, 'edge-logs'),
      databaseUrl: 'sqlite:/nonexistent/never-opened.db',
      extra: {
        ...tlsEnv('edge1'),
        FERRY_NODE_NAME: 'edge1',
        FERRY_EDGE_HOST: '127.0.0.1',
        FERRY_EDGE_SFTP_PORT: String(ports.sftp),
        FERRY_EDGE_TUNNEL_PORT: String(ports.tunnel),
        FERRY_EDGE_HEALTH_PORT: String(ports.health),
      },
    };
    envs = {};
    for (const name of ['n1', 'n2']) {
      envs[name] = {
        dataDir: path.join(dir, name),
        databaseUrl,
        storageDir: path.join(dir, 'shared'),
        extra: { ...FAST, ...tlsEnv(name), FERRY_NODE_NAME: name, FERRY_EDGES: `127.0.0.1:${ports.tunnel}` },
      };
    }
    const key = sshKeygen(dir);
    await ferryOk(envs.n1!, ['account', 'add', 'alice', '--key', key + '.pub']);
    login = { port: ports.sftp, user: 'alice', keyFile: key, dir };
    await startEdge();
    nodes.n1 = await startNode(envs.n1!);
    nodes.n2 = await startNode(envs.n2!);
  });

  after(async () => {
    for (const n of [...Object.values(nodes), edge]) await n?.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const readyNodes = async () =>
    ((await health(ports.health)).body?.nodes ?? [])
      .filter((n: any) => n.ready)
      .map((n: any) => n.node)
      .sort();
  const uploads = async () =>
    JSON.parse(await ferryOk(envs.n1!, ['transfers', 'list', '--json', '--limit', '1000'])).filter((t: any) => t.direction === 'upload');

  it('carries SFTP sessions end to end to a ready node, with the client’s own address, spreading them over the nodes', async () => {
    await waitFor('both nodes attached and ready', async () => (await readyNodes()).join() === 'n1,n2', 20_000);
    const files = [1, 2].map((i) => {
      const file = path.join(dir, `up${i}.bin`);
      return { file, sha: writeRandomFile(file, 30 * 1024 * 1024, i) };
    });
    // From 127.0.0.2: the node must log that address, not the edge's 127.0.0.1.
    const results = await Promise.all(files.map(({ file }, i) => sftpBatch(login, [`put ${file} up${i + 1}.bin`], ['-o', 'BindAddress=127.0.0.2'])));
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    for (const [i, { sha }] of files.entries()) assert.equal(sha256File(path.join(dir, 'shared', 'alice', `up${i + 1}.bin`)), sha);
    const rows = await uploads();
    assert.deepEqual(
      rows.map((t: any) => t.client),
      ['127.0.0.2', '127.0.0.2'],
    );
    assert.equal(new Set(rows.map((t: any) => t.node)).size, 2, 'two concurrent sessions went to two nodes (fewest open streams first)');
    assert.deepEqual(fs.readdirSync(edgeCwd), [], 'the edge wrote nothing');
    assert.deepEqual(fs.readdirSync(edgeEnv.dataDir), ['node-output.log'], 'only the test harness log (the edge’s stdout) is there');
  });

  it('keeps serving a client through the same node while another client of that node has stopped reading', async () => {
    const big = path.join(dir, 'shared', 'alice', 'big.bin');
    writeRandomFile(big, 64 * 1024 * 1024, 5);
    const file = path.join(dir, 'shared', 'alice', 'small.bin');
    const sha = writeRandomFile(file, 20 * 1024 * 1024, 6);
    const streams = async () => ((await health(ports.health)).body?.nodes ?? []).reduce((n: number, t: any) => n + t.streams, 0);
    // One stalled download on each node (stopped with SIGSTOP, so its window fills up), then a third client lands beside one of them.
    const stalled: SpawnedClient[] = [];
    try {
      for (const i of [1, 2]) {
        const client = sftpSpawn(login, [`get big.bin ${path.join(dir, `stalled-${i}.bin`)}`]);
        stalled.push(client);
        await waitFor(`stalled download ${i} carried`, async () => (await streams()) === i, 10_000, 50);
        process.kill(-client.child.pid!, 'SIGSTOP');
      }
      const r = await sftpBatch(login, [`get small.bin ${path.join(dir, 'small-copy.bin')}`]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(sha256File(path.join(dir, 'small-copy.bin')), sha);
    } finally {
      for (const client of stalled) {
        try {
          process.kill(-client.child.pid!, 'SIGCONT');
        } catch {}
        await client.killHard();
      }
    }
  });

  it('sends new sessions to the surviving node at once, refuses cleanly when no node is ready, and nodes reattach to a restarted edge', async () => {
    await nodes.n1!.kill('SIGKILL');
    nodes.n1 = undefined;
    await waitFor('the dead node gone from the edge', async () => (await readyNodes()).join() === 'n2', 5_000, 50);
    const file = path.join(dir, 'after-kill.bin');
    const sha = writeRandomFile(file, 1024 * 1024, 9);
    const r = await sftpBatch(login, [`put ${file} after-kill.bin`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256File(path.join(dir, 'shared', 'alice', 'after-kill.bin')), sha);

    await nodes.n2!.kill('SIGKILL');
    nodes.n2 = undefined;
    await waitFor('no ready node at the edge', async () => (await health(ports.health)).code === 503, 5_000, 50);
    const started = Date.now();
    const refused = await sftpBatch(login, ['pwd']);
    assert.notEqual(refused.code, 0);
    assert.ok(Date.now() - started < 5_000, 'refused at once, not a hang');

    await edge!.kill('SIGKILL');
    nodes.n2 = await startNode(envs.n2!);
    await startEdge();
    const reattached = Date.now();
    await waitFor('the node reattached to the restarted edge', async () => (await readyNodes()).join() === 'n2', 20_000, 100);
    assert.ok(Date.now() - reattached < 10_000, 'within seconds');
    const again = await sftpBatch(login, ['pwd']);
    assert.equal(again.code, 0, again.stderr);
  });
});
