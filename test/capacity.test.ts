import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { migrate, openDatabase } from '../src/db/connect.js';
import { DATABASE_KINDS, type DatabaseKind, preparedDatabaseUrl, tempDir } from './harness/databases.js';
import { adminLogin, adminRequest } from './harness/admin-api.js';
import { launchChromium } from './harness/browser.js';
import { ferryOk, runFerry, startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';

const MINUTE = 60_000;

/** [node, seconds] of each transfer in one interval; every transfer moves `seconds` MB unless bytes are given. */
type Interval = Array<[node: 'a' | 'b', seconds: number, megabytes?: number]>;

// Quiet intervals: 8 transfers of 1 MB/s each, 40 transfer-seconds in 60 s (concurrency 0.667).
// Times 2,4,4,4,5,5,7,9: mean 5, σ 2 (population), p50 4, p95 9, max 9; σ/max 0.222, erratic.
const QUIET: Interval = [
  ['a', 2],
  ['a', 4],
  ['a', 4],
  ['a', 4],
  ['b', 5],
  ['b', 5],
  ['b', 7],
  ['b', 9],
];
// Saturated: the same files taking four times as long (concurrency 2.667, each at 0.25 MB/s).
const SLOW: Interval = QUIET.map(([node, s]) => [node, s * 4, s]);
// Calm: four 5 s transfers of 5 MB (σ 0: not erratic), concurrency 0.333.
const CALM: Interval = [
  ['a', 5],
  ['a', 5],
  ['b', 5],
  ['b', 5],
];

/** Six one-minute intervals, ending two minutes before now. */
function intervalStarts(now: number): number[] {
  const first = Math.floor(now / MINUTE) * MINUTE - 8 * MINUTE;
  return Array.from({ length: 6 }, (_, k) => first + k * MINUTE);
}

async function insertLog(url: string, intervals: Interval[], now: number): Promise<void> {
  const handle = openDatabase(url);
  try {
    await migrate(handle);
    for (const name of ['a', 'b']) {
      await handle.db
        .insertInto('nodes')
        .values({
          id: `id-${name}`,
          name: `node-${name}`,
          version: '0.1.0',
          started_at: now - 3_600_000,
          heartbeat_at: now - 3_600_000,
          stopped_at: now - 1000,
          state: 'active',
          ready: 0,
          sessions: 0,
          sftp_address: null,
          admin_address: null,
          drain_deadline: null,
          lost_at: null,
          mode: 'active-active',
        })
        .execute();
    }
    const starts = intervalStarts(now);
    const rows = intervals.flatMap((transfers, k) =>
      transfers.map(([node, seconds, megabytes], i) => {
        const started = starts[k]! + 1000 + i * 100;
        return {
          node_id: `id-${node}`,
          worker_pid: 1,
          session_id: `s${k}-${i}`,
          account: 'alice',
          protocol: 'sftp',
          client_address: '127.0.0.1',
          path: `/f${k}-${i}.bin`,
          direction: (i % 2 ? 'download' : 'upload') as 'upload' | 'download',
          start_offset: 0,
          bytes: (megabytes ?? seconds) * 1_000_000,
          started_at: started,
          ended_at: started + seconds * 1000,
          sha256: null,
          status: 'completed' as 'completed' | 'failed',
          error: null,
        };
      }),
    );
    // Noise the report must ignore: a failed upload and a delivery (its time includes queue waits).
    const noise = { ...rows[0]!, path: '/noise', bytes: 1, started_at: starts[0]! + 2000, ended_at: starts[0]! + 50_000 };
    rows.push({ ...noise, status: 'failed' }, { ...noise, direction: 'delivery' as any });
    await handle.db.insertInto('transfers').values(rows).execute();
  } finally {
    await handle.close();
  }
}

function near(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual}, expected ${expected}`);
}

async function capacity(env: FerryEnv, args: string[] = []): Promise<any> {
  const r = await runFerry(['capacity', '--since', '30m', '--json', ...args], env);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const busy = (report: any) => report.intervals.filter((i: any) => i.count > 0);

/** The REST API serves the CLI's report, and the console plots it (Debian's Chromium, driven by playwright-core). */
async function checkApiAndConsole(node: RunningNode, env: FerryEnv): Promise<void> {
  const password = 'capacity-admin-pw';
  await ferryOk(env, ['admin', 'add', 'root', '--role', 'admin', '--password-stdin'], password + '\n');
  const token = await adminLogin(node.adminPort, 'root', password);
  const res = await adminRequest(node.adminPort, '/api/v1/capacity?since=30m&interval=1m', { token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const cli = await capacity(env, ['--interval', '1m']);
  assert.deepEqual(busy(res.body), busy(cli));
  assert.deepEqual(res.body.rules, cli.rules);
  const bad = await adminRequest(node.adminPort, '/api/v1/capacity?since=soon', { token });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error, /invalid --since "soon"/);

  const browser = await launchChromium();
  try {
    const page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
    page.setDefaultTimeout(20_000);
    await page.goto(`https://127.0.0.1:${node.adminPort}/#/capacity`);
    await page.fill('input[name=name]', 'root');
    await page.fill('input[name=password]', password);
    await page.click('button[type=submit]');
    await page.getByRole('heading', { name: 'Capacity' }).waitFor();
    await page.selectOption('select', '1h');
    await page.locator('[data-testid=nearing] .value', { hasText: 'yes' }).waitFor();
    // One line per node that moved bytes, and the six intervals with transfers as one p95 line.
    assert.equal(await page.locator('svg[aria-label="load per node"] polyline').count(), 2);
    const p95 = await page.locator('svg[aria-label="p95 throughput per transfer"] polyline').getAttribute('points');
    assert.equal(p95!.trim().split(' ').length, 6);
    if (process.env.FERRY_SCREENSHOT_DIR) await page.screenshot({ path: path.join(process.env.FERRY_SCREENSHOT_DIR, 'capacity.png'), fullPage: true });
  } finally {
    await browser.close();
  }
}

for (const kind of DATABASE_KINDS) {
  describe(`ferry capacity on a synthetic transfer log (${kind})`, () => {
    let dir: string;
    const now = Date.now();
    const envFor = async (name: string, throughput: string): Promise<FerryEnv> => ({
      dataDir: path.join(dir, name),
      databaseUrl: await preparedDatabaseUrl(kind as DatabaseKind, path.join(dir, name)),
      // The synthetic intervals hold 4 or 8 transfers: judge them all.
      extra: { FERRY_CAPACITY_INTERVAL: '1m', FERRY_CAPACITY_NODE_THROUGHPUT: throughput, FERRY_CAPACITY_MIN_SAMPLES: '4' },
    });
    let saturated: FerryEnv;
    let healthy: FerryEnv;

    before(async () => {
      dir = tempDir();
      fs.mkdirSync(path.join(dir, 'saturated'));
      fs.mkdirSync(path.join(dir, 'healthy'));
      fs.mkdirSync(path.join(dir, 'long'));
      fs.mkdirSync(path.join(dir, 'idle'));
      saturated = await envFor('saturated', '0.5MB/s');
      healthy = await envFor('healthy', '1MB/s');
      await insertLog(saturated.databaseUrl, [QUIET, QUIET, QUIET, SLOW, SLOW, SLOW], now);
      await insertLog(healthy.databaseUrl, [CALM, CALM, CALM, QUIET, QUIET, QUIET], now);
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('computes per-interval statistics, both rules and the failover projection of a saturated cluster', async () => {
      const report = await capacity(saturated);
      assert.equal(report.intervalSeconds, 60);
      assert.equal(report.mode, 'active-active');
      assert.equal(report.capacityPerNode, 500_000);
      const starts = intervalStarts(now).map((t) => new Date(t).toISOString());
      const intervals = busy(report);
      assert.deepEqual(
        intervals.map((i: any) => i.start),
        starts,
        'the six intervals with transfers, noise ignored',
      );
      for (const i of intervals.slice(0, 3)) {
        assert.equal(i.count, 8);
        assert.equal(i.bytes, 40_000_000);
        assert.deepEqual(i.seconds, { mean: 5, stddev: 2, p50: 4, p95: 9, max: 9 });
        assert.deepEqual(i.throughput, { mean: 1_000_000, stddev: 0, p50: 1_000_000, p95: 1_000_000, max: 1_000_000 });
        near(i.concurrency, 40 / 60, 0.001, 'quiet concurrency');
        near(i.load, 666_667, 1, 'quiet load');
        assert.deepEqual(i.nodes, { 'node-a': 233_333, 'node-b': 433_333 });
        assert.equal(i.spread, 0.2222);
        assert.equal(i.erratic, true);
      }
      for (const i of intervals.slice(3)) {
        assert.deepEqual(i.seconds, { mean: 20, stddev: 8, p50: 16, p95: 36, max: 36 });
        assert.equal(i.throughput.p95, 250_000);
        near(i.concurrency, 160 / 60, 0.001, 'busy concurrency');
        near(i.load, 666_667, 1, 'busy load: no more bytes per second for four times the concurrency');
        assert.equal(i.erratic, true);
      }
      assert.deepEqual(report.rules.classic, { verdict: true, intervals: 6, erratic: 6, share: 1 });
      const t = report.rules.throughput;
      assert.equal(t.verdict, true);
      assert.equal(t.quietP95Throughput, 1_000_000);
      assert.equal(t.busyP95Throughput, 250_000);
      near(t.busyConcurrency / t.quietConcurrency, 4, 0.01, 'concurrency rise');
      assert.equal(report.nearing, true);

      // node-b peaks at 433 333 B/s (87% of 0.5 MB/s), node-a at 233 333 (47%): together 133%.
      const nodes = Object.fromEntries(report.nodes.map((n: any) => [n.name, n]));
      assert.equal(nodes['node-b'].peakThroughput, 433_333);
      assert.equal(nodes['node-b'].peakLoad, 0.8667);
      assert.equal(nodes['node-a'].peakLoad, 0.4667);
      assert.equal(report.headroom.verdict, false);
      assert.equal(report.headroom.busiestNode, 'node-b');
      assert.equal(report.headroom.projectedNode, 'node-a');
      assert.equal(report.headroom.projectedPeakThroughput, 666_667);
      assert.equal(report.headroom.projectedPeakLoad, 1.3333);
      assert.equal(report.warning, true);
      assert.equal(report.reasons.length, 2);
      assert.match(report.reasons[1], /no failover headroom: losing node-b/);
    });

    it('finds a healthy cluster that keeps its speed as concurrency doubles and can lose a node', async () => {
      const report = await capacity(healthy);
      const intervals = busy(report);
      assert.equal(intervals.length, 6);
      assert.deepEqual(intervals[0].seconds, { mean: 5, stddev: 0, p50: 5, p95: 5, max: 5 });
      assert.equal(intervals[0].erratic, false);
      near(intervals[0].concurrency, 20 / 60, 0.001, 'calm concurrency');
      assert.deepEqual(report.rules.classic, { verdict: false, intervals: 6, erratic: 3, share: 0.5 });
      assert.equal(report.rules.throughput.verdict, false);
      near(report.rules.throughput.busyConcurrency / report.rules.throughput.quietConcurrency, 2, 0.01, 'concurrency rise');
      assert.equal(report.rules.throughput.busyP95Throughput, report.rules.throughput.quietP95Throughput);
      assert.equal(report.nearing, false);
      assert.equal(report.headroom.verdict, true);
      assert.equal(report.headroom.projectedPeakLoad, 0.6667);
      assert.equal(report.headroom.projectedPeakAt, intervalStarts(now).map((t) => new Date(t).toISOString())[3]);
      assert.equal(report.warning, false);
      assert.deepEqual(report.reasons, []);
    });

    it('reads a long log page by page: 12 000 transfers in one interval all count', async () => {
      const env = await envFor('long', '1MB/s');
      const handle = openDatabase(env.databaseUrl);
      const start = intervalStarts(now)[0]!;
      try {
        await migrate(handle);
        for (let chunk = 0; chunk < 12; chunk++) {
          const rows = Array.from({ length: 1000 }, (_, i) => ({
            node_id: 'id-a',
            worker_pid: 1,
            session_id: 's',
            account: 'alice',
            protocol: 'sftp',
            client_address: '127.0.0.1',
            path: `/many-${chunk}-${i}`,
            direction: 'upload' as const,
            start_offset: 0,
            bytes: 1000,
            started_at: start + chunk * 1000 + i,
            ended_at: start + chunk * 1000 + i + 2000,
            sha256: null,
            status: 'completed' as const,
            error: null,
          }));
          await handle.db.insertInto('transfers').values(rows).execute();
        }
      } finally {
        await handle.close();
      }
      const [only, ...others] = busy(await capacity(env));
      assert.equal(others.length, 0);
      assert.equal(only.count, 12_000);
      assert.equal(only.bytes, 12_000_000);
      assert.deepEqual(only.seconds, { mean: 2, stddev: 0, p50: 2, p95: 2, max: 2 });
      near(only.concurrency, (12_000 * 2) / 60, 0.001, 'concurrency');
    });

    it('gives no headroom verdict without a configured capacity per node', async () => {
      const report = await capacity({ ...healthy, extra: { FERRY_CAPACITY_INTERVAL: '1m' } });
      assert.equal(report.capacityPerNode, null);
      assert.equal(report.headroom.verdict, null);
      assert.match(report.headroom.reason, /capacity\.node_throughput/);
      assert.equal(report.headroom.projectedPeakThroughput, 666_667);
      assert.equal(report.nodes[0].peakLoad, null);
    });

    it('prints the statistics as a table with the verdicts', async () => {
      const r = await runFerry(['capacity', '--since', '30m'], saturated);
      assert.equal(r.code, 0, r.stderr);
      const start = new Date(intervalStarts(now)[3]!).toISOString();
      const row = r.stdout.split('\n').find((l) => l.startsWith(start));
      assert.ok(row, r.stdout);
      assert.deepEqual(row.split(/\s{2,}/), [start, '8', '40000000', '2.67', '20.0', '8.0', '16.0', '36.0', '36.0', '250 kB/s', '667 kB/s', 'yes']);
      assert.match(r.stdout, /nearing capacity: yes/);
      assert.match(r.stdout, /classic rule .*: yes, 6 of 6 intervals erratic/);
      assert.match(r.stdout, /failover headroom: no/);
      assert.match(r.stdout, /^node-b\s+433 kB\/s\s+87%/m);
      assert.match(r.stdout, /WARNING: nearing capacity/);
    });

    it('refuses bad input with a clear message', async () => {
      const cases: Array<[string[], RegExp]> = [
        [['capacity', '--since', 'yesterday'], /invalid --since "yesterday"/],
        [['capacity', '--since', '2999-01-01T00:00:00Z'], /in the future/],
        [['capacity', '--interval', '10ms'], /at least 1s/],
        [['capacity', '--since', '365d', '--interval', '1s'], /more than 10000 intervals/],
      ];
      for (const [args, message] of cases) {
        const r = await runFerry(args, healthy);
        assert.equal(r.code, 1, args.join(' '));
        assert.match(r.stderr, message);
      }
      const badSetting = await runFerry(['capacity'], { ...healthy, extra: { FERRY_CAPACITY_NODE_THROUGHPUT: 'fast' } });
      assert.equal(badSetting.code, 1);
      assert.match(badSetting.stderr, /capacity\.node_throughput \(FERRY_CAPACITY_NODE_THROUGHPUT\)/);
    });

    it('raises a capacity-warning cluster event from the primary, once per check interval', async () => {
      const env: FerryEnv = {
        ...saturated,
        extra: { ...saturated.extra, FERRY_CAPACITY_WINDOW: '30m', FERRY_CAPACITY_CHECK_INTERVAL: '1h', FERRY_NODE_NAME: 'node-c' },
      };
      let node = await startNode(env);
      try {
        const raised = await node.waitForLog((l) => l.msg === 'capacity warning');
        assert.match(raised.reasons[0], /nearing capacity/);
        if (kind === 'postgres') await checkApiAndConsole(node, env);
        await node.stop();
        // The next primary checks at once: the condition lasts, but the warning was raised less than an hour ago.
        node = await startNode(env);
        await node.waitForLog((l) => l.msg === 'capacity warning still holds (already raised)');
      } finally {
        await node.stop();
      }
      const status = JSON.parse((await runFerry(['cluster', 'status', '--json', '--events', '100'], env)).stdout);
      const warnings = status.events.filter((e: any) => e.kind === 'capacity-warning');
      assert.equal(warnings.length, 1);
      assert.match(warnings[0].detail, /nearing capacity: concurrency ×4\.00, p95 throughput ×0\.25/);
    });

    it('judges no interval with fewer than capacity.min_samples transfers: three erratic transfers raise no warning', async () => {
      // An idle cluster after three transfers of different sizes: 1 s, 2 s and 9 s (σ/max 0.39, "erratic").
      const idle: FerryEnv = {
        dataDir: path.join(dir, 'idle'),
        databaseUrl: await preparedDatabaseUrl(kind as DatabaseKind, path.join(dir, 'idle')),
        extra: { FERRY_CAPACITY_INTERVAL: '1m', FERRY_CAPACITY_NODE_THROUGHPUT: '100MB/s', FERRY_CAPACITY_WINDOW: '30m', FERRY_NODE_NAME: 'node-c' },
      };
      await insertLog(
        idle.databaseUrl,
        [
          [
            ['a', 1],
            ['a', 2],
            ['b', 9],
          ],
        ],
        now,
      );
      const report = await capacity(idle);
      assert.equal(report.minSamples, 20, 'the default of capacity.min_samples');
      const [interval] = busy(report);
      assert.equal(interval.count, 3);
      assert.equal(interval.spread, null, 'too few transfers to judge');
      assert.deepEqual(report.rules.classic, { verdict: null, intervals: 0, erratic: 0, share: null });
      assert.equal(report.rules.throughput.verdict, null);
      assert.equal(report.nearing, null);
      assert.equal(report.warning, false);
      assert.deepEqual(report.reasons, []);

      // The primary's check agrees: no capacity-warning event.
      const node = await startNode(idle);
      try {
        await node.waitForLog((l) => l.msg === 'capacity checked: no warning');
      } finally {
        await node.stop();
      }
      const status = JSON.parse((await runFerry(['cluster', 'status', '--json', '--events', '100'], idle)).stdout);
      assert.deepEqual(
        status.events.filter((e: any) => e.kind === 'capacity-warning'),
        [],
      );

      // The same three transfers are judged when the operator allows so few.
      const lax = await capacity({ ...idle, extra: { ...idle.extra, FERRY_CAPACITY_MIN_SAMPLES: '3' } });
      assert.equal(lax.minSamples, 3);
      assert.deepEqual(lax.rules.classic, { verdict: true, intervals: 1, erratic: 1, share: 1 });
      assert.match(lax.reasons[0], /transfer times erratic in 1 of 1 intervals/);
      const bad = await runFerry(['capacity'], { ...idle, extra: { ...idle.extra, FERRY_CAPACITY_MIN_SAMPLES: '1' } });
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /capacity\.min_samples \(FERRY_CAPACITY_MIN_SAMPLES\)/);
    });
  });
}
