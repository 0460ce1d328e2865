import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseProxyHeader } from '../src/edge/proxy-protocol.js';
import { preparedDatabaseUrl, tempDir } from './harness/databases.js';
import { edgeSetup, makeTunnelPki, rawClient, readyNodesAt, type EdgeSetup } from './harness/edges.js';
import { ferryOk, runFerry, startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';
import { sha256File, writeRandomFile } from './harness/files.js';
import { backendServers, checkHaproxyConfig, haproxyEnv, SHIPPED_HAPROXY_CFG, startHaproxy, type RunningHaproxy, type ServerState } from './harness/haproxy.js';
import { sftpBatch, sshKeygen, type Login } from './harness/openssh.js';
import { freePort } from './harness/ports.js';
import { waitFor } from './harness/wait.js';

const FAST = {
  FERRY_CLUSTER_LEASE_TTL: '2s',
  FERRY_NODE_HEARTBEAT_INTERVAL: '250ms',
  FERRY_NODE_DEAD_AFTER: '2s',
};
/** The clients' own address: what the nodes must see, although HAProxy and the edges stand between. */
const CLIENT = '127.0.0.2';
/** Where HAProxy's connections to the edges come from: the edges' edge.proxy_from. */
const HAPROXY_ADDRESS = '127.0.0.1';
const BIG = 12 * 1024 * 1024;
const SMALL = 1024 * 1024;
/** sftp -l is in Kbit/s: 16,000 ≈ 2 MB/s, so a big file takes ~6 s and is in flight when the kills come. */
const SLOW = ['-l', '16000'];
const MAX_ATTEMPTS = 8;
const CLIENT_DEADLINE_MS = 180_000;

interface Upload {
  local: string;
  remote: string;
  sha: string;
  size: number;
  attempts: number;
}

/**
 * What an operator's script does: put; when the session breaks, reconnect and
 * reput (continue where the server's partial file ends); when there is nothing
 * to resume (the break came before any byte was stored), put again.
 */
async function uploadWithRetry(login: Login, upload: Upload, deadline: number): Promise<void> {
  let command = 'put';
  const failures: string[] = [];
  while (upload.attempts < MAX_ATTEMPTS && Date.now() < deadline) {
    upload.attempts++;
    const r = await sftpBatch(login, [`${command} ${upload.local} ${upload.remote}`], ['-o', `BindAddress=${CLIENT}`, ...SLOW], deadline - Date.now());
    if (r.code === 0) return;
    // The previous attempt finished on the server, only its answer was lost.
    if (command === 'reput' && /same size or larger/.test(r.stderr)) return;
    failures.push(`${command}: ${r.stderr.trim()}`);
    command = command === 'reput' && /No such file|not found/i.test(r.stderr) ? 'put' : 'reput';
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  throw new Error(`${upload.remote}: not uploaded after ${upload.attempts} attempts:\n${failures.join('\n')}`);
}

describe('the PROXY protocol header an edge reads behind a balancer', () => {
  const V2 = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
  it('takes the client address from v2 (IPv4, IPv6, LOCAL) and v1, leaving the bytes after it', () => {
    const v4 = Buffer.concat([V2, Buffer.from([0x21, 0x11, 0, 12, 192, 0, 2, 7, 10, 0, 0, 1, 0x30, 0x39, 0, 22])]);
    assert.deepEqual(parseProxyHeader(Buffer.concat([v4, Buffer.from('SSH-2.0-x')])), {
      client: { family: 'IPv4', address: '192.0.2.7', port: 12345 },
      length: 28,
    });
    const v6 = Buffer.concat([
      V2,
      Buffer.from([0x21, 0x21, 0, 36]),
      Buffer.from('20010db8000000000000000000000001', 'hex'),
      Buffer.alloc(16),
      Buffer.from([0x04, 0xd2, 0, 22]),
    ]);
    assert.deepEqual(parseProxyHeader(v6), { client: { family: 'IPv6', address: '2001:db8::1', port: 1234 }, length: 52 });
    assert.deepEqual(parseProxyHeader(Buffer.concat([V2, Buffer.from([0x20, 0x00, 0, 0])])), { client: null, length: 16 }, 'LOCAL: the balancer itself');
    assert.deepEqual(parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8::7 2001:db8::1 40000 22\r\nSSH')), {
      client: { family: 'IPv6', address: '2001:db8::7', port: 40000 },
      length: 45,
    });
    assert.equal(parseProxyHeader(v4.subarray(0, 20)), undefined, 'incomplete: wait for more');
    assert.equal(parseProxyHeader(Buffer.from('PROXY TCP4 192.0.2.7')), undefined);
  });

  it('is a configuration error without edge.proxy_from: ferry edge does not start', async () => {
    const dir = tempDir();
    try {
      const r = await runFerry(['edge'], { dataDir: dir, databaseUrl: 'sqlite:/nonexistent/never-opened.db', extra: { FERRY_EDGE_PROXY_PROTOCOL: 'true' } });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /edge\.proxy_protocol is on but edge\.proxy_from \(FERRY_EDGE_PROXY_FROM\) lists no balancer/);
      const bad = await runFerry(['edge'], {
        dataDir: dir,
        databaseUrl: 'sqlite:/nonexistent/never-opened.db',
        extra: { FERRY_EDGE_PROXY_PROTOCOL: 'true', FERRY_EDGE_PROXY_FROM: '10.0.0.0/33' },
      });
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /edge\.proxy_from\[0\] \(FERRY_EDGE_PROXY_FROM\): "10\.0\.0\.0\/33" is not an IPv4 address or network/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a connection that does not start with a valid header', () => {
    assert.throws(() => parseProxyHeader(Buffer.from('SSH-2.0-OpenSSH_9.2\r\n')), /no PROXY protocol header/);
    assert.throws(() => parseProxyHeader(Buffer.from('PROXY TCP4 not-an-ip 10.0.0.1 1 22\r\n')), /malformed PROXY v1/);
    assert.throws(
      () =>
        parseProxyHeader(Buffer.from('PROXY TCP4 192.0.2.7 10.0.0.1 1 22 and much more text until the line is far too long for v1 without its CRLF ending')),
      /too long/,
    );
    assert.throws(() => parseProxyHeader(Buffer.concat([V2, Buffer.from([0x21, 0x11, 0xff, 0xff])])), /too long/);
    assert.throws(() => parseProxyHeader(Buffer.concat([V2, Buffer.from([0x31, 0x11, 0, 12])])), /unsupported PROXY v2 version/);
  });
});

describe('HAProxy (the shipped deploy/haproxy/haproxy.cfg) in front of two edges and two nodes', () => {
  let dir: string;
  let storage: string;
  const edges: Record<string, EdgeSetup> = {};
  const processes: Record<string, RunningNode | undefined> = {};
  const nodeEnvs: Record<string, FerryEnv> = {};
  let haproxy: RunningHaproxy | undefined;
  let haproxyVars: NodeJS.ProcessEnv;
  const lb = { sftp: 0, stats: 0 };
  let login: Login;

  const servers = () => backendServers(lb.stats, 'ferry_edges');
  const stateOf = async (server: string) => (await servers().catch(() => ({}) as Record<string, ServerState>))[server];
  const statusOf = async (server: string) => (await stateOf(server))?.status;
  /** Up, and its last health check got 200 from the edge's /health (a server starts UP before any check). */
  const checkedUp = async (server: string) => {
    const state = await stateOf(server);
    return state?.status === 'UP' && state.check === 'L7OK';
  };
  const startEdge = async (name: string) => {
    processes[name] = await startNode(edges[name]!.env, { command: 'edge', cwd: edges[name]!.cwd });
  };
  const uploads = async () =>
    JSON.parse(await ferryOk(nodeEnvs.n2!, ['transfers', 'list', '--json', '--limit', '1000'])).filter((t: any) => t.direction === 'upload');
  const partialSizes = () => {
    const root = path.join(storage, '.partial');
    if (!fs.existsSync(root)) return [];
    return fs.readdirSync(root).flatMap((a) =>
      fs
        .readdirSync(path.join(root, a))
        .filter((f) => f.endsWith('.part'))
        .map((f) => fs.statSync(path.join(root, a, f)).size),
    );
  };

  before(async () => {
    dir = tempDir();
    storage = path.join(dir, 'shared');
    const databaseUrl = await preparedDatabaseUrl('postgres', dir);
    const pki = await makeTunnelPki(dir, ['edge1', 'edge2'], ['n1', 'n2']);
    for (const name of ['edge1', 'edge2'])
      edges[name] = await edgeSetup(dir, name, pki, { FERRY_EDGE_PROXY_PROTOCOL: 'true', FERRY_EDGE_PROXY_FROM: HAPROXY_ADDRESS });
    for (const name of ['n1', 'n2']) {
      nodeEnvs[name] = {
        dataDir: path.join(dir, name),
        databaseUrl,
        storageDir: storage,
        extra: { ...FAST, ...pki.tlsEnv(name), FERRY_NODE_NAME: name, FERRY_EDGES: `${edges.edge1!.tunnel},${edges.edge2!.tunnel}` },
      };
    }
    const key = sshKeygen(dir);
    await ferryOk(nodeEnvs.n1!, ['account', 'add', 'alice', '--key', key + '.pub']);
    for (const name of ['edge1', 'edge2']) await startEdge(name);
    for (const name of ['n1', 'n2']) processes[name] = await startNode(nodeEnvs[name]!);
    for (const name of ['edge1', 'edge2']) {
      await waitFor(`both nodes ready at ${name}`, async () => (await readyNodesAt(edges[name]!.ports.health)).join() === 'n1,n2', 20_000);
    }

    lb.sftp = await freePort();
    lb.stats = await freePort();
    haproxyVars = haproxyEnv(dir, {
      FERRY_LB_BIND: `127.0.0.1:${lb.sftp}`,
      FERRY_LB_STATS_BIND: `127.0.0.1:${lb.stats}`,
      FERRY_LB_EDGE1: `127.0.0.1:${edges.edge1!.ports.sftp}`,
      FERRY_LB_EDGE1_HEALTH_PORT: String(edges.edge1!.ports.health),
      FERRY_LB_EDGE2: `127.0.0.1:${edges.edge2!.ports.sftp}`,
      FERRY_LB_EDGE2_HEALTH_PORT: String(edges.edge2!.ports.health),
    });
    login = { port: lb.sftp, user: 'alice', keyFile: key, dir };
  });

  after(async () => {
    await haproxy?.stop();
    for (const p of Object.values(processes)) await p?.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is a valid configuration with its default addresses and with the test’s, and marks both edges up by their /health', async () => {
    const defaults = checkHaproxyConfig(SHIPPED_HAPROXY_CFG, haproxyEnv(dir, {}));
    assert.equal(defaults.code, 0, defaults.output);
    const withVars = checkHaproxyConfig(SHIPPED_HAPROXY_CFG, haproxyVars);
    assert.equal(withVars.code, 0, withVars.output);
    haproxy = startHaproxy(SHIPPED_HAPROXY_CFG, haproxyVars, path.join(dir, 'haproxy.log'));
    await waitFor('HAProxy sees both edges up by their /health', async () => (await checkedUp('edge1')) && (await checkedUp('edge2')), 20_000, 200);
  });

  it('passes SFTP through to a node, which sees the client’s own address (PROXY protocol from HAProxy, carried by the edge)', async () => {
    const file = path.join(dir, 'hello.bin');
    const sha = writeRandomFile(file, 64 * 1024, 1);
    const r = await sftpBatch(login, [`put ${file} hello.bin`], ['-o', `BindAddress=${CLIENT}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha256File(path.join(storage, 'alice', 'hello.bin')), sha);
    const row = (await uploads()).find((t: any) => t.path === '/hello.bin');
    assert.equal(row.client, CLIENT, 'not HAProxy’s or the edge’s 127.0.0.1');

    // An edge that expects the PROXY protocol takes no connection without it (only the balancer may connect).
    const direct = await sftpBatch({ ...login, port: edges.edge1!.ports.sftp }, ['pwd'], [], 20_000);
    assert.notEqual(direct.code, 0);
    await processes.edge1!.waitForLog((l) => l.msg === 'connection refused: no valid PROXY protocol header', 5_000);
  });

  it('closes a connection that brings its own PROXY header from anywhere but the balancer, and logs it once', async () => {
    // A client that reaches the edge directly claims to be 192.0.2.7 (say, the one address an account is allowed from).
    const spoof = 'PROXY TCP4 192.0.2.7 127.0.0.1 40000 22\r\nSSH-2.0-OpenSSH_9.2\r\n';
    for (let i = 0; i < 3; i++) {
      const r = await rawClient(edges.edge1!.ports.sftp, CLIENT, spoof);
      assert.equal(r.closed, true, 'the edge closed the connection');
      assert.doesNotMatch(r.received, /SSH-2\.0-/, 'no node answered');
    }
    const refused = (l: Record<string, any>) => l.msg === 'connection refused: not from a balancer in edge.proxy_from';
    const line = await processes.edge1!.waitForLog(refused, 5_000);
    assert.equal(line.from, CLIENT);
    assert.equal(processes.edge1!.logs.filter(refused).length, 1, 'one line for three attempts');
    // HAProxy's own connections (from edge.proxy_from) still pass.
    const r = await sftpBatch(login, ['pwd'], ['-o', `BindAddress=${CLIENT}`]);
    assert.equal(r.code, 0, r.stderr);
  });

  it('completes every upload after the client’s retry when an edge and a node are killed mid-upload, and takes the dead edge out', async () => {
    const files: Upload[] = [];
    for (let client = 0; client < 3; client++) {
      for (const [kind, size] of [
        ['big', BIG],
        ['small', SMALL],
      ] as const) {
        const local = path.join(dir, `c${client}-${kind}.bin`);
        files.push({ local, remote: `c${client}-${kind}.bin`, sha: writeRandomFile(local, size, client * 10 + size), size, attempts: 0 });
      }
    }
    const deadline = Date.now() + CLIENT_DEADLINE_MS;
    // Three clients, each uploading its big file, then its small one.
    const clients = [0, 1, 2].map(async (client) => {
      for (const upload of files.filter((f) => f.remote.startsWith(`c${client}-`))) await uploadWithRetry(login, upload, deadline);
    });
    const settled = Promise.allSettled(clients);

    // All three big uploads under way (HAProxy spread them over both edges, the edges over both nodes): kill.
    await waitFor('three uploads past 1 MiB', () => partialSizes().filter((s) => s > SMALL).length === 3, 30_000, 50);
    const killedAt = Date.now();
    await processes.edge1!.kill('SIGKILL');
    processes.edge1 = undefined;
    await processes.n1!.kill('SIGKILL');
    processes.n1 = undefined;
    await waitFor('HAProxy marks edge1 down', async () => (await statusOf('edge1'))?.startsWith('DOWN'), 15_000, 50);
    console.log(`# HAProxy took the killed edge out of rotation ${Date.now() - killedAt} ms after the kill`);

    const results = await settled;
    for (const r of results) if (r.status === 'rejected') throw r.reason;
    for (const f of files) assert.equal(sha256File(path.join(storage, 'alice', f.remote)), f.sha, f.remote);
    const retried = files.filter((f) => f.attempts > 1);
    assert.ok(retried.length >= 1, 'the kills broke at least one upload in flight');
    console.log(`# attempts per upload: ${files.map((f) => `${f.remote}=${f.attempts}`).join(' ')}`);

    // The transfer log: one completed row per file, whole, hashed, from the client's own address;
    // the broken attempts are aborted (the dead node's rows once the survivor sees its heartbeat stop).
    const rows = await waitFor(
      'no upload left in progress',
      async () => {
        const all = (await uploads()).filter((t: any) => t.path !== '/hello.bin');
        return all.every((t: any) => t.status !== 'in-progress') ? all : undefined;
      },
      15_000,
      250,
    );
    for (const f of files) {
      const completed = rows.filter((t: any) => t.path === `/${f.remote}` && t.status === 'completed');
      assert.equal(completed.length, 1, `${f.remote}: one completed row`);
      assert.equal(completed[0].sha256, f.sha, `${f.remote}: logged hash of the whole file`);
      assert.equal(completed[0].bytes, f.size);
      assert.equal(completed[0].client, CLIENT);
    }
    assert.ok(
      rows.some((t: any) => t.status === 'aborted'),
      'the broken attempts are logged aborted',
    );
    assert.ok(
      rows.some((t: any) => t.status === 'completed' && t.offset > 0),
      'a retry resumed a partial upload (reput), not from byte 0',
    );
    assert.deepEqual(
      rows.filter((t: any) => t.status !== 'completed' && t.status !== 'aborted'),
      [],
    );

    // After the fall period new sessions all land on the surviving edge.
    assert.equal(await checkedUp('edge2'), true);
    for (let i = 0; i < 3; i++) {
      const r = await sftpBatch(login, ['pwd'], ['-o', `BindAddress=${CLIENT}`]);
      assert.equal(r.code, 0, r.stderr);
    }
  });

  it('takes a restarted edge back into rotation after its health checks pass', async () => {
    await startEdge('edge1');
    // The surviving node redials the edge with a backoff of up to 15 s; then 2 good checks.
    await waitFor('HAProxy marks edge1 up again', () => checkedUp('edge1'), 30_000, 100);
    const before = (await servers()).edge1!.sessionsTotal;
    // leastconn among idle edges takes turns: some of these land on edge1.
    for (let i = 0; i < 4; i++) {
      const r = await sftpBatch(login, ['pwd'], ['-o', `BindAddress=${CLIENT}`]);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.ok((await servers()).edge1!.sessionsTotal > before, 'edge1 serves sessions again');
  });
});
