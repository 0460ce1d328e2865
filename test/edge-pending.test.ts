import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { preparedDatabaseUrl, tempDir } from './harness/databases.js';
import { edgeHealth, edgeSetup, makeTunnelPki, rawClient, readyNodesAt, type EdgeSetup } from './harness/edges.js';
import { ferryOk, startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';
import { sftpBatch, sshKeygen, type Login } from './harness/openssh.js';
import { waitFor } from './harness/wait.js';

const MAX_PENDING = 50;
const PENDING_TIMEOUT_MS = 2_000;
const SILENT_CLIENTS = 300;

/** A balancer as HAProxy's send-proxy is: a PROXY v1 header with the client's address, then its bytes both ways. */
async function proxyBalancer(edgePort: number): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: edgePort });
    upstream.write(`PROXY TCP4 ${client.remoteAddress} 127.0.0.1 ${client.remotePort} 22\r\n`);
    client.pipe(upstream).pipe(client);
    for (const s of [client, upstream]) s.on('error', () => {}).on('close', () => (client.destroy(), upstream.destroy()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** Clients carried to nodes now, over all node tunnels of the edge. */
async function carried(healthPort: number): Promise<number> {
  return ((await edgeHealth(healthPort)).body?.nodes ?? []).reduce((n: number, t: any) => n + t.streams, 0);
}

describe('an edge under silent connections (a PROXY header, then nothing; or nothing at all)', () => {
  let dir: string;
  let edge: EdgeSetup;
  let edgeProcess: RunningNode | undefined;
  let node: RunningNode | undefined;
  let login: Login;

  before(async () => {
    dir = tempDir();
    const pki = await makeTunnelPki(dir, ['edge1'], ['n1']);
    // The test itself plays the balancer: its connections come from 127.0.0.1.
    edge = await edgeSetup(dir, 'edge1', pki, {
      FERRY_EDGE_PROXY_PROTOCOL: 'true',
      FERRY_EDGE_PROXY_FROM: '127.0.0.1',
      FERRY_EDGE_MAX_PENDING: String(MAX_PENDING),
      FERRY_EDGE_PENDING_TIMEOUT: `${PENDING_TIMEOUT_MS}ms`,
    });
    const env: FerryEnv = {
      dataDir: path.join(dir, 'n1'),
      databaseUrl: await preparedDatabaseUrl('sqlite', dir),
      extra: { ...pki.tlsEnv('n1'), FERRY_NODE_NAME: 'n1', FERRY_EDGES: edge.tunnel },
    };
    const key = sshKeygen(dir);
    await ferryOk(env, ['account', 'add', 'alice', '--key', key + '.pub']);
    login = { port: edge.ports.sftp, user: 'alice', keyFile: key, dir };
    edgeProcess = await startNode(edge.env, { command: 'edge', cwd: edge.cwd });
    node = await startNode(env);
    await waitFor('the node ready at the edge', async () => (await readyNodesAt(edge.ports.health)).join() === 'n1', 20_000);
  });

  after(async () => {
    for (const p of [node, edgeProcess]) await p?.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it(`holds at most edge.max_pending of ${SILENT_CLIENTS} silent clients, closes them after edge.pending_timeout, and serves again`, async () => {
    let peak = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching) {
        peak = Math.max(peak, await carried(edge.ports.health));
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const started = Date.now();
    const header = 'PROXY TCP4 192.0.2.7 127.0.0.1 40000 22\r\n';
    // Each waits up to 15 s for the edge to close it (the node's own login timer is 60 s).
    const results = await Promise.all(
      Array.from({ length: SILENT_CLIENTS }, (_, i) => rawClient(edge.ports.sftp, '127.0.0.1', i % 10 === 0 ? '' : header, 15_000)),
    );
    const lastClosedAfter = Date.now() - started;
    watching = false;
    await watcher;
    const open = results.filter((r) => !r.closed).length;
    console.log(
      `# ${SILENT_CLIENTS} silent clients: at most ${peak} carried to the node at once (edge.max_pending ${MAX_PENDING}); ${open} still open after 15 s; all closed ${lastClosedAfter} ms after the first connect`,
    );
    assert.ok(peak <= MAX_PENDING, `${peak} silent clients held node tunnels at once`);
    assert.equal(open, 0, 'every silent client was closed by the edge');
    assert.ok(results.every((r) => !/SSH-2\.0-/.test(r.received) || r.closed));
    await waitFor('no client carried any more', async () => (await carried(edge.ports.health)) === 0, 5_000, 50);
    const full = edgeProcess!.logs.filter((l) => l.msg === 'connection refused: edge.max_pending connections have not spoken yet');
    assert.equal(full.length, 1, 'the refusals at the cap are logged once');
    assert.ok(full[0]!.maxPending === MAX_PENDING);

    // A real client, through a balancer, is served: it speaks at once.
    const balancer = await proxyBalancer(edge.ports.sftp);
    try {
      const r = await sftpBatch({ ...login, port: balancer.port }, ['pwd'], [], 20_000);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      balancer.server.close();
    }
  });
});
