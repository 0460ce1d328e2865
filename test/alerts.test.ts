import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { migrate, openDatabase } from '../src/db/connect.js';
import { scrapeMetrics } from './harness/admin.js';
import { preparedDatabaseUrl, tempDir } from './harness/databases.js';
import { FERRY_MAIN, ferryEnv, ferryOk, startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';
import { writeRandomFile } from './harness/files.js';
import { sftpBatch } from './harness/openssh.js';
import { clusterEnvs, seedAccountsAndFailingRoute } from './harness/seed.js';
import { waitFor } from './harness/wait.js';
import { WebhookReceiver } from './harness/webhook-receiver.js';

const FAST = {
  FERRY_CLUSTER_LEASE_TTL: '2s',
  FERRY_NODE_HEARTBEAT_INTERVAL: '250ms',
  FERRY_NODE_DEAD_AFTER: '2s',
  FERRY_CLUSTER_SINGLETON_INTERVAL: '500ms',
  FERRY_QUEUE_MAX_ATTEMPTS: '1',
  FERRY_ACCOUNTS_LOCKOUT_FAILURES: '2',
};

const PAGER_KINDS = ['primary-changed', 'failover', 'account-locked', 'delivery-failed'];

async function primaryName(env: FerryEnv): Promise<string> {
  const status = JSON.parse(await ferryOk(env, ['cluster', 'status', '--json']));
  return waitFor('a primary', () => status.primary?.node as string | undefined);
}

describe('alert webhooks of a three-node cluster', () => {
  let dir: string;
  let databaseUrl: string;
  let key: string;
  const envs: Record<string, FerryEnv> = {};
  const nodes: Record<string, RunningNode | undefined> = {};
  // Answers the first attempt of every event with 503: every event is retried once.
  const ops = new WebhookReceiver('ops secret', (_alert, earlier) => (earlier.length === 0 ? 503 : 200));
  // Holds the first request for the account-locked event unanswered, to kill the primary during it.
  const pager = new WebhookReceiver('pager secret', (alert, earlier) => (alert.event.kind === 'account-locked' && earlier.length === 0 ? 'hold' : 200));
  const live = () => Object.entries(nodes).filter(([, n]) => n) as Array<[string, RunningNode]>;

  before(async () => {
    dir = tempDir();
    databaseUrl = await preparedDatabaseUrl('postgres', dir);
    await ops.start();
    await pager.start();
    const secretFile = path.join(dir, 'ops.secret');
    fs.writeFileSync(secretFile, 'ops secret\n', { mode: 0o600 });
    const config = path.join(dir, 'ferry.yaml');
    fs.writeFileSync(
      config,
      [
        'alerts:',
        '  retry_delay: 200ms',
        '  retry_max_delay: 1s',
        '  timeout: 3s',
        '  webhooks:',
        `    - url: ${ops.url}`,
        '      name: ops',
        `      secret_file: ${secretFile}`,
        `    - url: http://127.0.0.1:${pager.port}/pager`,
        '      name: pager',
        "      secret: 'pager secret'",
        `      kinds: [${PAGER_KINDS.join(', ')}]`,
      ].join('\n') + '\n',
    );
    Object.assign(envs, clusterEnvs(['a', 'b', 'c'], dir, databaseUrl, FAST));
    key = await seedAccountsAndFailingRoute(envs.a!, dir);
    for (const name of ['a', 'b', 'c']) {
      nodes[name] = await startNode(envs[name]!, { args: ['--config', config] });
    }
  });

  after(async () => {
    for (const [, n] of live()) await n.kill('SIGKILL');
    await ops.stop();
    await pager.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('sends each change of primary once, a failover as such, signed, retrying a receiver that failed', async () => {
    await waitFor("the first primary's election at the pager", () => pager.distinct('primary-changed').length === 1);
    assert.equal(pager.distinct('primary-changed')[0]!.event.node, 'a');
    assert.equal(pager.distinct('failover').length, 0, 'a first election is no failover');

    await nodes.a!.kill('SIGKILL');
    nodes.a = undefined;
    await waitFor('the failover at the pager', () => pager.distinct('failover').length === 1 && pager.distinct('primary-changed').length === 2);
    const failover = pager.distinct('failover')[0]!.event;
    assert.match(failover.detail, /^token \d+: a stopped renewing the primary lease$/);
    assert.notEqual(failover.node, 'a');

    // The ops receiver refused each first attempt: it got the same event again, with the next attempt number.
    const atOps = await waitFor('the failover at ops', () => ops.distinct('failover')[0]);
    const tries = ops.received.filter((r) => r.eventId === atOps.eventId);
    assert.deepEqual(
      tries.map((r) => [r.attempt, r.answered]),
      [
        [1, 503],
        [2, 200],
      ],
    );
    assert.equal(tries[0]!.body, tries[1]!.body, 'a retry sends the same body');
  });

  it('sends a delivery that failed for good', async () => {
    const [name, node] = live()[0]!;
    const source = path.join(dir, 'invoice.csv');
    writeRandomFile(source, 4096, 7);
    const put = await sftpBatch({ port: node.sftpPort, user: 'alice', keyFile: key, dir }, ['mkdir out', `put ${source} out/invoice.csv`]);
    assert.equal(put.code, 0, `${name}: ${put.stderr}`);
    const failed = await waitFor('delivery-failed at the pager', () => pager.distinct('delivery-failed')[0]);
    assert.match(failed.event.detail, /^job \d+ \(deliver\), transfer \d+, attempt 1 of 1: /);
  });

  it('after a failover in the middle of a delivery, the new primary sends it again: none lost, each acknowledged once', async () => {
    const primary = await primaryName(envs.b!);
    const [, standby] = live().find(([name]) => name !== primary)!;
    for (let i = 0; i < 2; i++) {
      const r = await sftpBatch({ port: standby.sftpPort, user: 'bob', password: 'wrong password', dir }, ['pwd']);
      assert.notEqual(r.code, 0);
    }
    const held = await waitFor('the account-locked alert held at the pager', () => pager.received.find((r) => r.event.kind === 'account-locked'));
    assert.equal(held.answered, undefined);
    assert.match(held.event.detail, /^account bob: 2 wrong passwords, the last from 127\.0\.0\.1/);

    await nodes[primary]!.kill('SIGKILL');
    nodes[primary] = undefined;
    const resent = await waitFor('the account-locked alert sent again by the new primary', () => pager.distinct('account-locked')[0], 30_000);
    assert.equal(resent.eventId, held.eventId);
    assert.equal(resent.body, held.body);
    assert.equal(resent.attempt, 2, 'the attempt in flight was counted before it was made');
    await waitFor('the second failover at the pager', () => pager.distinct('failover').length === 2 && pager.distinct('primary-changed').length === 3);

    // None lost: every event recorded since the cluster started reaches ops (which takes every kind).
    const handle = openDatabase(databaseUrl);
    try {
      await migrate(handle);
      const recorded = async () => (await handle.db.selectFrom('cluster_events').select(['id', 'kind']).orderBy('id').execute()).map((e) => String(e.id));
      await waitFor(
        'every recorded event at ops',
        async () => {
          const got = new Set(ops.distinct().map((r) => r.eventId));
          return (await recorded()).every((id) => got.has(id));
        },
        30_000,
      );
      const all = await recorded();
      assert.deepEqual(
        ops
          .distinct()
          .map((r) => r.eventId)
          .sort(),
        [...all].sort(),
        'ops got exactly the recorded events',
      );
    } finally {
      await handle.close();
    }

    for (const receiver of [ops, pager]) {
      assert.ok(receiver.received.length > 0);
      for (const r of receiver.received) assert.ok(r.signatureValid, `valid signature on event ${r.eventId} attempt ${r.attempt}`);
      const bodies = new Map<string, string>();
      for (const r of receiver.received) {
        assert.equal(bodies.get(r.eventId) ?? r.body, r.body, `event ${r.eventId} always has the same body`);
        bodies.set(r.eventId, r.body);
        assert.equal(r.event.id, Number(r.eventId));
      }
    }
    assert.deepEqual([...new Set(pager.received.map((r) => r.event.kind))].sort(), [...PAGER_KINDS].sort(), 'the pager gets its kinds only');
    const acknowledgements = new Map<string, number>();
    for (const r of pager.acknowledged) acknowledgements.set(r.eventId, (acknowledgements.get(r.eventId) ?? 0) + 1);
    assert.deepEqual(
      [...acknowledgements.values()].filter((n) => n !== 1),
      [],
      'the pager acknowledged each event once',
    );

    const [, survivor] = live().find(([name]) => name !== primary)!;
    const metrics = await waitFor('the new primary in its metrics', async () => {
      const m = await scrapeMetrics(survivor.adminPort);
      return m.get('ferry_node_primary') === 1 ? m : undefined;
    });
    assert.ok(metrics.get('ferry_alert_deliveries_total', { webhook: 'ops', result: 'delivered' }) > 0);
    assert.ok(metrics.get('ferry_alert_deliveries_total', { webhook: 'ops', result: 'retry' }) > 0);
  });
});

describe('alert webhooks of one node', () => {
  it('gives an event up when it is older than alerts.give_up_after, and sends a new webhook no history', async () => {
    const dir = tempDir();
    const down = new WebhookReceiver('s', () => 500);
    const later = new WebhookReceiver('s');
    await down.start();
    await later.start();
    const env = (webhooks: string[]): FerryEnv => ({
      dataDir: path.join(dir, 'data'),
      databaseUrl: `sqlite:${path.join(dir, 'ferry.db')}`,
      extra: {
        FERRY_NODE_HEARTBEAT_INTERVAL: '250ms',
        FERRY_ALERTS_WEBHOOKS: webhooks.join(','),
        FERRY_ALERTS_SECRET: 's',
        FERRY_ALERTS_RETRY_DELAY: '200ms',
        FERRY_ALERTS_GIVE_UP_AFTER: '2s',
      },
    });
    let node: RunningNode | undefined;
    try {
      node = await startNode(env([down.url]));
      const givenUp = await node.waitForLog((l) => l.msg === 'alert given up: the event is older than alerts.give_up_after' && l.event === 'primary-changed');
      const tries = down.received.filter((r) => r.eventId === String(givenUp.eventId));
      assert.ok(tries.length >= 2, 'retried before giving up');
      assert.deepEqual(
        tries.map((r) => r.attempt),
        tries.map((_, i) => i + 1),
      );
      assert.equal(givenUp.attempts, tries.length);
      assert.ok((await scrapeMetrics(node.adminPort)).get('ferry_alert_deliveries_total', { webhook: `127.0.0.1:${down.port}`, result: 'given-up' }) >= 1);
      assert.equal(await node.stop(), 0);
      const stopped = openDatabase(`sqlite:${path.join(dir, 'ferry.db')}`);
      const history = (await stopped.db.selectFrom('cluster_events').select(['id', 'kind']).orderBy('id', 'desc').executeTakeFirstOrThrow()).id;
      await stopped.close();

      node = await startNode(env([down.url, later.url]));
      await waitFor('the restart at the new webhook', () => later.distinct('primary-changed').length === 1);
      const got = later.distinct().map((r) => r.event);
      assert.ok(history > 0);
      assert.ok(
        got.every((e) => e.id > history),
        'no event from before this node started (the last: its node-stopped)',
      );
      assert.ok(got.some((e) => e.kind === 'node-joined'));
    } finally {
      await node?.kill('SIGKILL');
      await down.stop();
      await later.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('alert settings', () => {
  /** Runs `ferry start`, which must refuse the configuration at once. */
  function refusedStart(env: FerryEnv, args: string[] = []): Promise<{ code: number | null; stderr: string }> {
    return new Promise((resolve) => {
      execFile(process.execPath, [FERRY_MAIN, 'start', ...args], { env: ferryEnv(env), timeout: 30_000 }, (err, _stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }),
      );
    });
  }

  it('refuses a webhook without a secret, a URL that is not http(s), an unknown kind and an unreadable secret file, changing nothing', async () => {
    const dir = tempDir();
    try {
      const dataDir = path.join(dir, 'data');
      const env = (extra: Record<string, string>): FerryEnv => ({
        dataDir,
        databaseUrl: `sqlite:${path.join(dataDir, 'ferry.db')}`,
        extra: { FERRY_ADMIN_PORT: '0', FERRY_SFTP_PORT: '0', ...extra },
      });
      const cases: Array<[Record<string, string>, RegExp]> = [
        [{ FERRY_ALERTS_WEBHOOKS: 'http://127.0.0.1:9/hook' }, /alerts\.webhooks\[0\] \(FERRY_ALERTS_WEBHOOKS\): http:\/\/127\.0\.0\.1:9\/hook needs a secret/],
        [{ FERRY_ALERTS_WEBHOOKS: 'ftp://127.0.0.1/hook', FERRY_ALERTS_SECRET: 's' }, /"ftp:\/\/127\.0\.0\.1\/hook" is not an http:\/\/ or https:\/\/ URL/],
        [{ FERRY_ALERTS_WEBHOOKS: 'http://127.0.0.1:9/a,http://127.0.0.1:9/a', FERRY_ALERTS_SECRET: 's' }, /listed twice/],
        [
          { FERRY_ALERTS_WEBHOOKS: 'http://127.0.0.1:9/hook', FERRY_ALERTS_SECRET_FILE: path.join(dir, 'missing') },
          /alerts\.secret_file: cannot read .*missing/,
        ],
        [{ FERRY_ALERTS_GIVE_UP_AFTER: 'never' }, /alerts\.give_up_after/],
      ];
      for (const [extra, message] of cases) {
        const r = await refusedStart(env(extra));
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, message);
        assert.equal(fs.existsSync(dataDir), false, 'nothing was created');
      }
      const yaml = path.join(dir, 'kinds.yaml');
      fs.writeFileSync(yaml, 'alerts:\n  secret: s\n  webhooks:\n    - url: http://127.0.0.1:9/hook\n      kinds: [primary-changed, reboot]\n');
      const bad = await refusedStart(env({}), ['--config', yaml]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /alerts\.webhooks\[0\]\.kinds\[1\].*expected one of .*"failover"/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
