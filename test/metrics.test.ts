import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fetchAdmin, scrapeMetrics } from './harness/admin.js';
import { preparedDatabaseUrl, tempDir } from './harness/databases.js';
import { startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';
import { writeRandomFile } from './harness/files.js';
import { sftpBatch, sftpSpawn, type Login } from './harness/openssh.js';
import { clusterEnvs, seedAccountsAndFailingRoute } from './harness/seed.js';
import { waitFor } from './harness/wait.js';

const FAST = {
  FERRY_CLUSTER_LEASE_TTL: '2s',
  FERRY_NODE_HEARTBEAT_INTERVAL: '250ms',
  FERRY_NODE_DEAD_AFTER: '2s',
  FERRY_CLUSTER_SINGLETON_INTERVAL: '500ms',
  // A failed delivery waits an hour for its next attempt: it stays queued while the test looks.
  FERRY_QUEUE_RETRY_DELAY: '1h',
  FERRY_QUEUE_MAX_ATTEMPTS: '3',
};

const SFTP = { protocol: 'sftp' };
const UPLOAD = { protocol: 'sftp', direction: 'upload' };
const DOWNLOAD = { protocol: 'sftp', direction: 'download' };

describe('Prometheus metrics of a two-node cluster', () => {
  let dir: string;
  let key: string;
  const envs: Record<string, FerryEnv> = {};
  const nodes: Record<string, RunningNode | undefined> = {};

  before(async () => {
    dir = tempDir();
    const databaseUrl = await preparedDatabaseUrl('postgres', dir);
    Object.assign(envs, clusterEnvs(['m1', 'm2'], dir, databaseUrl, FAST));
    // What alice uploads to out/ is pushed to a partner nobody listens for: the delivery fails and waits.
    key = await seedAccountsAndFailingRoute(envs.m1!, dir);
    nodes.m1 = await startNode(envs.m1!);
    nodes.m2 = await startNode(envs.m2!);
  });

  after(async () => {
    for (const n of Object.values(nodes)) await n?.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves /metrics in the Prometheus text format, without login', async () => {
    const res = await fetchAdmin(nodes.m1!.adminPort, '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.contentType, /^text\/plain; version=0\.0\.4/);
    const m = await scrapeMetrics(nodes.m1!.adminPort);
    assert.equal(m.types.get('ferry_transfers_total'), 'counter');
    assert.equal(m.types.get('ferry_transfer_duration_seconds'), 'histogram');
    assert.equal(m.types.get('ferry_sessions_open'), 'gauge');
    assert.equal(m.get('ferry_node_info', { node: 'm1', mode: 'active-active' }), 1);
  });

  it('moves sessions, logins, transfers, bytes and the duration histogram with a real upload and download', async () => {
    const port = nodes.m1!.adminPort;
    const before = await scrapeMetrics(port);
    const size = 1024 * 1024;
    const source = path.join(dir, 'report.bin');
    writeRandomFile(source, size, 3);
    const login: Login = { port: nodes.m1!.sftpPort, user: 'alice', keyFile: key, dir };
    // 4000 kbit/s: each direction takes about two seconds, long enough to look at it while it runs.
    const client = sftpSpawn(login, ['mkdir out', `put ${source} out/report.bin`, `get out/report.bin ${path.join(dir, 'back.bin')}`], ['-l', '4000']);

    const during = await waitFor('an upload in progress', async () => {
      const m = await scrapeMetrics(port);
      return m.get('ferry_transfers_in_progress', UPLOAD) === 1 ? m : undefined;
    });
    assert.equal(during.get('ferry_sessions_open', SFTP), before.get('ferry_sessions_open', SFTP) + 1);
    assert.equal(during.get('ferry_sessions_total', SFTP), before.get('ferry_sessions_total', SFTP) + 1);
    assert.equal(during.get('ferry_logins_total', { ...SFTP, result: 'ok' }), before.get('ferry_logins_total', { ...SFTP, result: 'ok' }) + 1);
    assert.equal(await client.exited, 0);

    const done = await waitFor('the session to end in the metrics', async () => {
      const m = await scrapeMetrics(port);
      return m.get('ferry_sessions_open', SFTP) === before.get('ferry_sessions_open', SFTP) ? m : undefined;
    });
    const moved = (name: string, labels: Record<string, string>) => done.get(name, labels) - before.get(name, labels);
    assert.equal(moved('ferry_transfers_total', { ...UPLOAD, status: 'completed' }), 1);
    assert.equal(moved('ferry_transfers_total', { ...DOWNLOAD, status: 'completed' }), 1);
    assert.equal(moved('ferry_transfer_bytes_total', UPLOAD), size);
    assert.equal(moved('ferry_transfer_bytes_total', DOWNLOAD), size);
    assert.equal(moved('ferry_transfer_duration_seconds_count', UPLOAD), 1);
    assert.ok(moved('ferry_transfer_duration_seconds_sum', UPLOAD) > 0);
    assert.equal(moved('ferry_transfer_duration_seconds_bucket', { ...UPLOAD, le: '+Inf' }), 1);
    assert.equal(done.get('ferry_transfers_in_progress', UPLOAD), 0);
    assert.equal(done.get('ferry_transfers_in_progress', DOWNLOAD), 0);

    const refused = await sftpBatch({ port: nodes.m1!.sftpPort, user: 'bob', password: 'wrong password', dir }, ['pwd']);
    assert.notEqual(refused.code, 0);
    const failed = await waitFor('the failed login counted', async () => {
      const m = await scrapeMetrics(port);
      return m.get('ferry_logins_total', { ...SFTP, result: 'failed' }) > before.get('ferry_logins_total', { ...SFTP, result: 'failed' }) ? m : undefined;
    });
    assert.equal(failed.get('ferry_logins_total', { ...SFTP, result: 'failed' }), before.get('ferry_logins_total', { ...SFTP, result: 'failed' }) + 1);
  });

  it('shows the delivery the upload queued: its failed attempt, the queue depth and the age of the oldest job growing', async () => {
    const sum = async (name: string, labels: Record<string, string>) => {
      const all = await Promise.all([nodes.m1!, nodes.m2!].map((n) => scrapeMetrics(n.adminPort)));
      return all.reduce((total, m) => total + m.get(name, labels), 0);
    };
    // Either node may have run the attempt: the cluster's figure is the sum.
    await waitFor('the failed attempt counted', async () => (await sum('ferry_deliveries_total', { kind: 'deliver', outcome: 'retry' })) === 1);
    const first = await scrapeMetrics(nodes.m2!.adminPort);
    assert.equal(first.get('ferry_queue_jobs', { state: 'queued' }), 1, 'waiting for its next attempt');
    assert.equal(first.get('ferry_queue_jobs', { state: 'running' }), 0);
    assert.equal(first.get('ferry_queue_jobs', { state: 'failed' }), 0);
    const age = first.get('ferry_queue_oldest_age_seconds');
    assert.ok(age > 0);
    await waitFor('the oldest job to age', async () => (await scrapeMetrics(nodes.m1!.adminPort)).get('ferry_queue_oldest_age_seconds') > age + 0.5);
  });

  it('moves role, lease holder, fencing token and peer heartbeat age on the survivor of a failover', async () => {
    const m1 = await scrapeMetrics(nodes.m1!.adminPort);
    const m2 = await scrapeMetrics(nodes.m2!.adminPort);
    assert.equal(m1.get('ferry_node_primary'), 1);
    assert.equal(m2.get('ferry_node_primary'), 0);
    assert.equal(m2.get('ferry_node_ready'), 1);
    const token = m2.get('ferry_lease_token');
    assert.ok(token >= 1);
    assert.equal(m1.get('ferry_lease_token'), token, 'both nodes read the same lease');
    assert.equal(m2.get('ferry_lease_holder', { node: 'm1' }), 1);
    assert.ok(m2.has('ferry_peer_heartbeat_age_seconds', { peer: 'm1' }));
    assert.ok(m2.has('ferry_peer_heartbeat_age_seconds', { peer: 'm2' }));
    assert.ok(m2.get('ferry_database_round_trip_seconds_count') > 0);
    assert.equal(m2.get('ferry_database_reachable'), 1);
    assert.equal(m2.get('ferry_cluster_metrics_ok'), 1);

    await nodes.m1!.kill('SIGKILL');
    nodes.m1 = undefined;
    const promoted = await waitFor('m2 primary in its metrics', async () => {
      const m = await scrapeMetrics(nodes.m2!.adminPort);
      return m.get('ferry_node_primary') === 1 ? m : undefined;
    });
    assert.ok(promoted.get('ferry_lease_token') > token, 'a new fencing token');
    assert.equal(promoted.get('ferry_lease_holder', { node: 'm2' }), 1);
    assert.equal(promoted.has('ferry_lease_holder', { node: 'm1' }), false);
    const silent = promoted.get('ferry_peer_heartbeat_age_seconds', { peer: 'm1' });
    await waitFor("m1's heartbeat age to grow", async () => {
      const m = await scrapeMetrics(nodes.m2!.adminPort);
      return m.get('ferry_peer_heartbeat_age_seconds', { peer: 'm1' }) > silent + 1;
    });
    const later = await scrapeMetrics(nodes.m2!.adminPort);
    assert.ok(later.get('ferry_peer_heartbeat_age_seconds', { peer: 'm2' }) < later.get('ferry_peer_heartbeat_age_seconds', { peer: 'm1' }));
  });
});
