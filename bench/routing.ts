/**
 * Routing and work-queue benchmark (issue 5).
 *
 *   npm run bench:routing                      # all scenarios, full size
 *   node dist/bench/routing.js --quick         # a smoke run
 *   node dist/bench/routing.js sftp --rounds 5 # some scenarios
 *
 * 1. noop: queue throughput. 5,000 no-op jobs enqueued in one transaction straight
 *    into a private PostgreSQL; time from the commit until every job is completed,
 *    with 1 node and with 2 active-active nodes (alternating), jobs/s and the ratio.
 * 2. copy: a route copying alice's bench/* into bob/in; 1,000 files of 4 KiB made
 *    directly in alice's home (on /dev/shm), their deliveries queued with
 *    enqueueDeliveries in one transaction (as completed uploads do); files/s on
 *    2 nodes, every copy's SHA-256 checked.
 * 3. sftp: a route pushing alice's push/* to a partner, a private OpenSSH sshd;
 *    1,000 files of 4 KiB, files/s on 2 nodes; every file checked at the partner
 *    and no *.ferrypart left. Reference, in the same invocation and alternating:
 *    OpenSSH `sftp` putting the same files to the same sshd in one session.
 *    With the default queue concurrency (4 per node) and with 16. Also measured:
 *    what one fresh SSH login costs against that sshd (ssh2, as Ferry's push uses).
 *
 * Everything listens on 127.0.0.1; every wait is bounded; everything started is
 * killed and every temporary directory removed, also on failure or Ctrl-C. A
 * benchmark, not a test: it prints figures and ratios, and exits 0 unless it
 * could not measure.
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase, type DatabaseHandle } from '../src/db/connect.js';
import { median } from './cluster/probes.js';
import { Teardown, withTimeout } from './cluster/teardown.js';
import { benchCluster, type BenchCluster } from './routing/cluster.js';
import { cpuDelta, cpuLine, cpuSample, trees, type CpuDelta, type Groups } from './lib/process-cpu.js';
import { freeBytes, verifyCopies, writeFiles, type FileSet } from './routing/files.js';
import {
  attemptDurations,
  attemptsPerNode,
  enqueueNoops,
  enqueueUploads,
  transferStatuses,
  waitForBatch,
  type Batch,
  type BatchResult,
} from './routing/jobs.js';
import { parseRoutingOptions, USAGE, UsageError, type RoutingOptions } from './routing/options.js';
import { measureLoginCost, sftpSession, type LoginCost } from './routing/ssh.js';
import { sshKeygen } from '../test/harness/openssh.js';
import { createDatabase, startPostgres } from '../test/harness/postgres.js';
import { startSshd, type SshdServer } from '../test/harness/sshd.js';
import { signalTree } from '../test/harness/process-tree.js';

const OVERALL_LIMIT_MS = 45 * 60_000;
/** Deliveries fail at once instead of retrying after 10 s: a benchmark wants to see a failure, not time it. */
const MAX_ATTEMPTS = 1;
const STALL_MS = 60_000;
const DEFAULT_CONCURRENCY = 4;
const HIGH_CONCURRENCY = 16;
const REPO = fileURLToPath(new URL('../..', import.meta.url));

const teardown = new Teardown(OVERALL_LIMIT_MS);

const s = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(3)} s` : 'n/a');
const rate = (n: number, ms: number) => n / (ms / 1000);
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const fmt = (v: number) => (Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v.toFixed(1)) : 'n/a');

function clearFerryEnvironment(): void {
  const found = Object.keys(process.env).filter((k) => k.startsWith('FERRY_'));
  for (const k of found) delete process.env[k];
  if (found.length > 0)
    console.log(`(ignoring ${found.join(', ')} from the environment: this benchmark sets what it varies and leaves the rest at Ferry's defaults)`);
}

function git(args: string[]): string {
  const r = spawnSync('git', ['-C', REPO, ...args], { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? r.stdout.trim() : '?';
}

/** TCP connections accepted in this network namespace so far (/proc/net/snmp PassiveOpens). */
function passiveOpens(): number {
  try {
    const lines = fs
      .readFileSync('/proc/net/snmp', 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('Tcp:'));
    const keys = lines[0]!.split(/\s+/);
    const values = lines[1]!.split(/\s+/);
    return Number(values[keys.indexOf('PassiveOpens')]);
  } catch {
    return NaN;
  }
}

interface Ctx {
  options: RoutingOptions;
  db: DatabaseHandle;
  cluster: BenchCluster;
  storage: string;
  /** Process groups whose CPU time is reported for every measured batch. */
  cpu: Groups;
}

function batchLimits(count: number, perItemMs: number) {
  return { timeoutMs: 60_000 + count * perItemMs, stallMs: STALL_MS, signal: teardown.signal };
}

function batchLine(label: string, n: number, unit: string, r: BatchResult, extra = ''): string {
  return (
    `  ${label}: ${n} ${unit} in ${s(r.wallMs)} = ${fmt(rate(n, r.wallMs))} ${unit}/s` +
    `   [first pick-up after ${s(r.pickupMs)}; pick-up -> last done ${s(r.busyMs)} = ${fmt(rate(n, r.busyMs))}/s]${extra}  load ${load()}`
  );
}

// ---------------------------------------------------------------- 1. no-op jobs

interface NoopRun {
  nodes: number;
  result: BatchResult;
  cpu: CpuDelta;
}

async function noopScenario(ctx: Ctx): Promise<NoopRun[]> {
  const { options, db, cluster } = ctx;
  console.log(`\n== 1. queue throughput: ${options.jobs} no-op jobs per round, 1 node vs 2 nodes (concurrency ${DEFAULT_CONCURRENCY} per node) ==`);
  const runs: NoopRun[] = [];
  const run = async (nodes: number, warmup: boolean, count: number) => {
    teardown.check();
    const batch = await enqueueNoops(db.db, count, MAX_ATTEMPTS);
    const before = cpuSample(ctx.cpu);
    const result = await waitForBatch(db.db, batch, batchLimits(count, 50));
    const cpu = cpuDelta(before, cpuSample(ctx.cpu));
    if (!warmup) runs.push({ nodes, result, cpu });
    console.log(
      batchLine(
        `${nodes} node${nodes > 1 ? 's' : ' '}${warmup ? ' warm-up' : `  round ${runs.filter((r) => r.nodes === nodes).length}`}`,
        count,
        'jobs',
        result,
        `  (enqueue ${s(batch.enqueueMs)}, not counted)`,
      ),
    );
    if (!warmup) console.log(`      ${cpuLine(cpu)}`);
  };
  await cluster.start(0, DEFAULT_CONCURRENCY);
  await cluster.stop(1);
  await run(1, true, Math.min(options.jobs, 500));
  // Alternating, so drift in the machine's other load hits both sides.
  for (let r = 0; r < options.rounds; r++) {
    await cluster.stop(1);
    await run(1, false, options.jobs);
    await cluster.start(1, DEFAULT_CONCURRENCY);
    if (r === 0) await run(2, true, Math.min(options.jobs, 500));
    await run(2, false, options.jobs);
  }
  return runs;
}

// ---------------------------------------------------------------- 2. local copy

interface CopyRun {
  result: BatchResult;
  cpu: CpuDelta;
  perDeliveryMs: number;
  perNode: Record<string, number>;
}

async function checkDeliveries(ctx: Ctx, batch: Batch, label: string): Promise<{ perNode: Record<string, number>; perDeliveryMs: number }> {
  const statuses = await transferStatuses(ctx.db.db, batch);
  if (statuses.completed !== batch.count || Object.keys(statuses).length !== 1) {
    throw new Error(`${label}: transfer log rows of the batch: ${JSON.stringify(statuses)} (expected ${batch.count} completed)`);
  }
  const { ms, attempts } = await attemptDurations(ctx.db.db, batch);
  if (attempts !== batch.count) console.log(`  NOTE ${label}: ${attempts} attempts for ${batch.count} deliveries`);
  return { perNode: await attemptsPerNode(ctx.db.db, batch), perDeliveryMs: median(ms) };
}

async function copyScenario(ctx: Ctx): Promise<CopyRun[]> {
  const { options, db, cluster, storage } = ctx;
  console.log(
    `\n== 2. route deliveries, local copy: ${options.files} files of ${options.fileSize} B per round, 2 nodes (concurrency ${DEFAULT_CONCURRENCY} per node) ==`,
  );
  await cluster.start(0, DEFAULT_CONCURRENCY);
  await cluster.start(1, DEFAULT_CONCURRENCY);
  const added = await cluster.cli(['route', 'add', 'bench-copy', '--account', 'alice', '--path', 'bench/*', '--copy-to', 'bob/in']);
  if (added.code !== 0) throw new Error(`ferry route add bench-copy failed: ${added.stderr || added.stdout}`);
  const source = path.join(storage, 'alice', 'bench');
  const target = path.join(storage, 'bob', 'in');
  const runs: CopyRun[] = [];
  const run = async (tag: string, count: number, warmup: boolean) => {
    teardown.check();
    const files = writeFiles(source, tag, count, options.fileSize);
    const batch = await enqueueUploads(
      db.db,
      'alice',
      [...files.hashes.keys()].map((name) => ({ path: `/bench/${name}`, size: files.size })),
      MAX_ATTEMPTS,
      storage,
    );
    const before = cpuSample(ctx.cpu);
    const result = await waitForBatch(db.db, batch, batchLimits(count, 200));
    const cpu = cpuDelta(before, cpuSample(ctx.cpu));
    const problems = verifyCopies(files, target, /\.part$/);
    if (problems.length > 0) throw new Error(`local copy ${tag}: ${problems.join('; ')}`);
    const { perNode, perDeliveryMs } = await checkDeliveries(ctx, batch, `local copy ${tag}`);
    if (!warmup) runs.push({ result, cpu, perDeliveryMs, perNode });
    console.log(
      batchLine(
        warmup ? 'warm-up' : `round ${tag.slice(1)}`,
        count,
        'files',
        result,
        `  (all copies' SHA-256 match; per node ${JSON.stringify(perNode)}; median delivery ${fmt(perDeliveryMs)} ms)`,
      ),
    );
    if (!warmup) console.log(`      ${cpuLine(cpu)}`);
  };
  await run('warmup', Math.min(options.files, 100), true);
  for (let r = 1; r <= options.rounds; r++) await run(`r${r}`, options.files, false);
  return runs;
}

// ---------------------------------------------------------------- 3. SFTP push

interface SftpRound {
  concurrency: number;
  ferry: BatchResult;
  ferryCpu: CpuDelta;
  opensshCpu: CpuDelta;
  ferryPerDeliveryMs: number;
  perNode: Record<string, number>;
  connections: number;
  opensshMs: number;
}

interface Partner {
  sshd: SshdServer;
  keyFile: string;
  ferryDir: string;
}

async function startPartner(ctx: Ctx, dir: string, keyFile: string): Promise<Partner> {
  const sshd = await withTimeout('start sshd', startSshd(dir, keyFile + '.pub'), 30_000, teardown.signal);
  const forget = teardown.addLastResort(() => signalTree(sshd.pid, 'SIGKILL'));
  teardown.add('stop sshd', async () => {
    await sshd.stop();
    forget();
  });
  const ferryDir = path.join(sshd.filesDir, 'ferry');
  fs.mkdirSync(ferryDir, { recursive: true });
  const added = await ctx.cluster.cli([
    'partner',
    'add',
    'bench-sshd',
    '--url',
    `sftp://root@127.0.0.1:${sshd.port}${ferryDir}`,
    '--key',
    keyFile,
    '--host-key',
    sshd.hostKeyPub,
  ]);
  if (added.code !== 0) throw new Error(`ferry partner add failed: ${added.stderr || added.stdout}`);
  const route = await ctx.cluster.cli(['route', 'add', 'bench-push', '--account', 'alice', '--path', 'push/*', '--push', 'bench-sshd']);
  if (route.code !== 0) throw new Error(`ferry route add bench-push failed: ${route.stderr || route.stdout}`);
  return { sshd, keyFile, ferryDir };
}

async function sftpScenario(ctx: Ctx, partner: Partner, concurrency: number): Promise<SftpRound[]> {
  const { options, db, cluster, storage } = ctx;
  console.log(
    `\n== 3. route deliveries, SFTP push to an OpenSSH sshd: ${options.files} files of ${options.fileSize} B per round, 2 nodes, ` +
      `FERRY_QUEUE_CONCURRENCY=${concurrency} per node; reference: OpenSSH sftp, one session, same files, same sshd ==`,
  );
  if (cluster.running().length > 0) await cluster.stopAll();
  await cluster.start(0, concurrency);
  await cluster.start(1, concurrency);
  const source = path.join(storage, 'alice', 'push');
  const rounds: SftpRound[] = [];

  const ferry = async (tag: string, files: FileSet) => {
    const count = files.hashes.size;
    const batch = await enqueueUploads(
      db.db,
      'alice',
      [...files.hashes.keys()].map((name) => ({ path: `/push/${name}`, size: files.size })),
      MAX_ATTEMPTS,
      storage,
    );
    const opens = passiveOpens();
    const before = cpuSample(ctx.cpu);
    const result = await waitForBatch(db.db, batch, batchLimits(count, 250));
    const cpu = cpuDelta(before, cpuSample(ctx.cpu));
    const connections = passiveOpens() - opens;
    const problems = verifyCopies(files, partner.ferryDir, /\.ferrypart$/);
    if (problems.length > 0) throw new Error(`SFTP push ${tag}: ${problems.join('; ')}`);
    const checked = await checkDeliveries(ctx, batch, `SFTP push ${tag}`);
    return { files, result, cpu, connections, ...checked };
  };
  const openssh = async (tag: string, files: FileSet) => {
    const remote = `openssh-${tag}`;
    const commands = [`mkdir ${remote}`, `cd ${remote}`, `lcd ${files.dir}`, ...[...files.hashes.keys()].map((n) => `put ${n}`)];
    const before = cpuSample(ctx.cpu);
    const r = await sftpSession(teardown, { port: partner.sshd.port, user: 'root', keyFile: partner.keyFile }, commands, 60_000 + files.hashes.size * 100);
    const cpu = cpuDelta(before, cpuSample(ctx.cpu));
    teardown.check();
    if (r.code !== 0) throw new Error(`OpenSSH sftp ${tag} exited ${r.code}: ${r.stderr.trim().slice(0, 500)}`);
    const problems = verifyCopies(files, path.join(partner.sshd.filesDir, remote));
    if (problems.length > 0) throw new Error(`OpenSSH sftp ${tag}: ${problems.join('; ')}`);
    return { ms: r.ms, cpu };
  };

  const warm = await ferry('warmup', writeFiles(source, `c${concurrency}-warmup`, Math.min(options.files, 50), options.fileSize));
  console.log(batchLine('Ferry   warm-up', warm.files.hashes.size, 'files', warm.result));
  for (let r = 1; r <= options.rounds; r++) {
    teardown.check();
    const tag = `c${concurrency}-r${r}`;
    // The same files for both, each to its own directory at the partner; the reference first in odd rounds, second in even ones.
    const files = writeFiles(source, tag, options.files, options.fileSize);
    let o: Awaited<ReturnType<typeof openssh>>;
    let f: Awaited<ReturnType<typeof ferry>>;
    if (r % 2 === 1) {
      o = await openssh(tag, files);
      f = await ferry(tag, files);
    } else {
      f = await ferry(tag, files);
      o = await openssh(tag, files);
    }
    const opensshMs = o.ms;
    rounds.push({
      concurrency,
      ferry: f.result,
      ferryCpu: f.cpu,
      opensshCpu: o.cpu,
      ferryPerDeliveryMs: f.perDeliveryMs,
      perNode: f.perNode,
      connections: f.connections,
      opensshMs,
    });
    console.log(
      batchLine(
        `Ferry   round ${r}`,
        options.files,
        'files',
        f.result,
        `  (all intact, no .ferrypart; per node ${JSON.stringify(f.perNode)}; median delivery ${fmt(f.perDeliveryMs)} ms; ${f.connections} new TCP connections accepted on this host meanwhile)`,
      ),
    );
    console.log(`      ${cpuLine(f.cpu)}`);
    console.log(
      `  OpenSSH round ${r}: ${options.files} files in ${s(opensshMs)} = ${fmt(rate(options.files, opensshMs))} files/s   (sftp -b, one session, puts in order; all intact)`,
    );
    console.log(`      ${cpuLine(o.cpu)}`);
    console.log(`          ratio Ferry/OpenSSH: ${(rate(options.files, f.result.wallMs) / rate(options.files, opensshMs)).toFixed(2)}`);
  }
  return rounds;
}

/** Median CPU milliseconds per item for each process group, e.g. "ferry nodes 2.10 ms, postgres 1.30 ms". */
function perItem(cpus: CpuDelta[], items: number): string {
  if (cpus.length === 0) return 'n/a';
  return Object.keys(cpus[0]!.seconds)
    .map((name) => `${name} ${((median(cpus.map((c) => c.seconds[name] ?? 0)) * 1000) / items).toFixed(2)} ms`)
    .join(', ');
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  let options: RoutingOptions;
  try {
    options = parseRoutingOptions(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      if (err.message) console.error(err.message + '\n');
      console.error(USAGE);
      process.exitCode = err.message ? 2 : 0;
      return;
    }
    throw err;
  }
  clearFerryEnvironment();
  const ssh = (spawnSync('ssh', ['-V'], { encoding: 'utf8', timeout: 10_000 }).stderr ?? '').trim();
  const dirty = git(['status', '--porcelain', '--', 'src']).split('\n').filter(Boolean).length;
  console.log(`Ferry routing and work-queue benchmark: ${new Date().toISOString()}`);
  console.log(`command: node ${path.relative(process.cwd(), process.argv[1]!)} ${process.argv.slice(2).join(' ')}`.trimEnd());
  console.log(`machine: ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? '?'}), load average ${load()}, Node ${process.version}, ${ssh}`);
  console.log(
    `Ferry: git ${git(['rev-parse', '--short', 'HEAD'])}${dirty > 0 ? ` + uncommitted changes in ${dirty} file(s) under src/ (dist/ as built from the working tree)` : ''}`,
  );
  console.log(
    `sizes: ${options.jobs} no-op jobs; ${options.files} files of ${options.fileSize} B; ${options.rounds} measured round(s) per configuration${options.quick ? ' (--quick)' : ''}; scenarios ${options.scenarios.join(', ')}`,
  );
  console.log(
    'NOTE: every node, PostgreSQL, sshd, the sftp client and this script share these cores with any other work on the machine: figures are noisy, compare the ratios within one run.',
  );

  const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-bench-routing-'));
  teardown.add('remove ' + tmpRoot, () => fs.rmSync(tmpRoot, { recursive: true, force: true }));
  // Sources, both nodes' storage and the partner's files: on /dev/shm when it has room.
  const needed = 256 * 1024 * 1024 + options.files * (options.fileSize + 4096) * options.rounds * 8;
  const shmBase = fs.existsSync('/dev/shm') && freeBytes('/dev/shm') > needed ? '/dev/shm' : os.tmpdir();
  const fileRoot = fs.mkdtempSync(path.join(shmBase, 'ferry-bench-routing-'));
  teardown.add('remove ' + fileRoot, () => fs.rmSync(fileRoot, { recursive: true, force: true }));
  console.log(
    `files (storage, sources, partner): ${fileRoot}${shmBase === '/dev/shm' ? ' (tmpfs)' : ' (no room on /dev/shm)'}; node data and logs: ${tmpRoot}`,
  );
  const clientDir = path.join(tmpRoot, 'client');
  fs.mkdirSync(clientDir);
  const keyFile = sshKeygen(clientDir);

  const pg = await withTimeout('start PostgreSQL', startPostgres(), 120_000, teardown.signal);
  teardown.add('stop PostgreSQL', () => pg.stop(), 60_000);
  const databaseUrl = await createDatabase(pg.adminUrl);
  const storage = path.join(fileRoot, 'storage');
  const cluster = benchCluster(teardown, path.join(tmpRoot, 'nodes'), databaseUrl, storage, 2);
  // The first node migrates the database; the benchmark's own connection comes after.
  await cluster.start(0, DEFAULT_CONCURRENCY);
  const db = openDatabase(databaseUrl, { poolSize: 4 });
  teardown.add('close the database connection', () => db.close(), 10_000);
  for (const account of ['alice', 'bob']) {
    const added = await cluster.cli(['account', 'add', account, '--password-stdin'], crypto.randomBytes(12).toString('hex') + '\n');
    if (added.code !== 0) throw new Error(`ferry account add ${account} failed: ${added.stderr || added.stdout}`);
  }
  const cpu: Groups = { 'ferry nodes': () => trees(cluster.pids()) };
  try {
    const postmaster = Number(fs.readFileSync(path.join(pg.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (postmaster > 0) cpu.postgres = () => trees([postmaster]);
  } catch {
    console.log('(cannot read postmaster.pid: PostgreSQL counts under "everything else")');
  }
  cpu['this script + sftp client'] = () => [process.pid];
  const ctx: Ctx = { options, db, cluster, storage, cpu };

  let noop: NoopRun[] = [];
  let copy: CopyRun[] = [];
  let login: LoginCost | undefined;
  const sftp: SftpRound[] = [];
  if (options.scenarios.includes('noop')) noop = await noopScenario(ctx);
  if (options.scenarios.includes('copy')) copy = await copyScenario(ctx);
  if (options.scenarios.includes('sftp')) {
    const partner = await startPartner(ctx, path.join(fileRoot, 'partner'), keyFile);
    cpu.sshd = () => trees([partner.sshd.pid]);
    console.log(`\npartner: OpenSSH sshd (internal-sftp) on 127.0.0.1:${partner.sshd.port}, files in ${partner.sshd.filesDir}`);
    const privateKey = fs.readFileSync(keyFile);
    login = await measureLoginCost(partner.sshd.port, 'root', privateKey, options.probeLogins, 2 * DEFAULT_CONCURRENCY, teardown.signal);
    console.log(
      `one fresh SFTP connection with ssh2 (connect, key exchange, key login, sftp subsystem, realpath, close): ` +
        `median ${fmt(median(login.sequentialMs))} ms one at a time (n=${login.sequentialMs.length}); ` +
        `${fmt(login.perSecond)} logins/s with ${login.parallel} at once${login.failures ? `; ${login.failures} failed: ${JSON.stringify(login.errors)}` : ''}`,
    );
    sftp.push(...(await sftpScenario(ctx, partner, DEFAULT_CONCURRENCY)));
    if (options.concurrency16) sftp.push(...(await sftpScenario(ctx, partner, HIGH_CONCURRENCY)));
  }
  await cluster.stopAll();

  // ---------------------------------------------------------------- summary
  console.log(`\n== Summary: median of ${options.rounds} round(s); time from the enqueueing commit to the last job completed ==`);
  if (noop.length > 0) {
    const one = noop.filter((r) => r.nodes === 1).map((r) => rate(options.jobs, r.result.wallMs));
    const two = noop.filter((r) => r.nodes === 2).map((r) => rate(options.jobs, r.result.wallMs));
    const pickup = median(noop.map((r) => r.result.pickupMs));
    console.log(`queue, ${options.jobs} no-op jobs, concurrency ${DEFAULT_CONCURRENCY} per node:`);
    const busy = (n: number) => fmt(median(noop.filter((r) => r.nodes === n).map((r) => rate(options.jobs, r.result.busyMs))));
    console.log(`  1 node : ${fmt(median(one))} jobs/s   (rounds: ${one.map(fmt).join(', ')}; from the first pick-up: ${busy(1)} jobs/s)`);
    console.log(`  2 nodes: ${fmt(median(two))} jobs/s   (rounds: ${two.map(fmt).join(', ')}; from the first pick-up: ${busy(2)} jobs/s)`);
    console.log(
      `  CPU per job, 1 node : ${perItem(
        noop.filter((r) => r.nodes === 1).map((r) => r.cpu),
        options.jobs,
      )}`,
    );
    console.log(
      `  CPU per job, 2 nodes: ${perItem(
        noop.filter((r) => r.nodes === 2).map((r) => r.cpu),
        options.jobs,
      )}`,
    );
    console.log(
      `  ratio 2 nodes / 1 node: ${(median(two) / median(one)).toFixed(2)}   (median first pick-up ${s(pickup)} after the commit: the nodes' 1 s idle poll)`,
    );
  }
  if (copy.length > 0) {
    const v = copy.map((r) => rate(options.files, r.result.wallMs));
    console.log(`local copy, ${options.files} files of ${options.fileSize} B, 2 nodes x concurrency ${DEFAULT_CONCURRENCY}:`);
    const busy = copy.map((r) => rate(options.files, r.result.busyMs));
    console.log(
      `  ${fmt(median(v))} files/s   (rounds: ${v.map(fmt).join(', ')}; from the first pick-up: ${fmt(median(busy))} files/s; median delivery ${fmt(median(copy.map((r) => r.perDeliveryMs)))} ms)`,
    );
    console.log(
      `    CPU per file: ${perItem(
        copy.map((r) => r.cpu),
        options.files,
      )}`,
    );
  }
  for (const c of [DEFAULT_CONCURRENCY, HIGH_CONCURRENCY]) {
    const rs = sftp.filter((r) => r.concurrency === c);
    if (rs.length === 0) continue;
    const f = rs.map((r) => rate(options.files, r.ferry.wallMs));
    const o = rs.map((r) => rate(options.files, r.opensshMs));
    console.log(`SFTP push, ${options.files} files of ${options.fileSize} B, 2 nodes x concurrency ${c}:`);
    console.log(
      `  Ferry  : ${fmt(median(f))} files/s   (rounds: ${f.map(fmt).join(', ')}; from the first pick-up: ${fmt(median(rs.map((r) => rate(options.files, r.ferry.busyMs))))} files/s; median delivery ${fmt(median(rs.map((r) => r.ferryPerDeliveryMs)))} ms; ${fmt(median(rs.map((r) => r.connections)))} new TCP connections per round)`,
    );
    console.log(
      `    CPU per file: ${perItem(
        rs.map((r) => r.ferryCpu),
        options.files,
      )}`,
    );
    console.log(`  OpenSSH: ${fmt(median(o))} files/s   (rounds: ${o.map(fmt).join(', ')}; one sftp session)`);
    console.log(
      `    CPU per file: ${perItem(
        rs.map((r) => r.opensshCpu),
        options.files,
      )}`,
    );
    console.log(`  ratio Ferry/OpenSSH: ${(median(f) / median(o)).toFixed(2)}   (per round: ${rs.map((r, i) => (f[i]! / o[i]!).toFixed(2)).join(', ')})`);
  }
  if (login) {
    console.log(
      `SSH login cost (ssh2 -> this sshd): ${fmt(median(login.sequentialMs))} ms each one at a time; at most ~${fmt(login.perSecond)} fresh connections/s with ${login.parallel} at once on this machine`,
    );
  }
  console.log(
    `caveat: ${os.availableParallelism()} core(s) shared by 2 nodes, PostgreSQL, sshd, the sftp client, this script and other work; ` +
      'OpenSSH sftp writes each file in place, Ferry writes a temporary name, fsyncs, checks the size and renames, and records every delivery in PostgreSQL.',
  );
}

let exitCode = 0;
main()
  .catch((err) => {
    exitCode = 1;
    console.error(`\nbenchmark failed: ${(err as Error).stack ?? err}`);
  })
  .finally(async () => {
    await teardown.runAll();
    process.exit(process.exitCode ?? exitCode);
  });
