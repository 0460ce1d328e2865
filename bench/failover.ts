/**
 * Failover and scale-out benchmark for a Ferry cluster on a private PostgreSQL.
 *
 *   npm run bench:failover
 *
 * Part 1: three nodes in active-passive mode with the DEFAULT cluster settings
 * (lease TTL 5 s, heartbeat 1 s). Ten rounds of: find the primary, SIGKILL its
 * whole process group, measure (a) kill -> another node's /health/ready is 200
 * (polled every 20 ms) and (b) kill -> first SFTP login + realpath('.') (`pwd`)
 * on that new primary (ssh2 client, a fresh connection every 50 ms); then restart
 * the killed node on its data dir so it rejoins as a standby.
 *
 * Part 2: active-active small-file upload rate, 1 node vs 2 nodes: 4 concurrent
 * OpenSSH `sftp` sessions, each putting 250 files of 4 KiB, spread round-robin
 * over the nodes; source files and storage on /dev/shm.
 *
 * Everything listens on 127.0.0.1; every wait is bounded; everything started is
 * killed and every temporary directory removed, also on failure or Ctrl-C.
 * This is a benchmark, not a test: it reports figures against the goal and exits
 * 0 unless it could not measure.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from './cluster/cli.js';
import { startBenchNode, type BenchNode } from './cluster/node-process.js';
import { max, median, pollUntil, readyCode, sftpLoginOnce } from './cluster/probes.js';
import { sleep, Teardown, withTimeout } from './cluster/teardown.js';
import type { FerryEnv } from '../test/harness/ferry.js';
import { sftpBatch, sshKeygen, type Login } from '../test/harness/openssh.js';
import { freePort } from '../test/harness/ports.js';
import { createDatabase, startPostgres } from '../test/harness/postgres.js';

const ROUNDS = 10;
const GOAL_MS = 5000;
const READY_POLL_MS = 20;
const LOGIN_POLL_MS = 50;
/** One round's measurement gives up after this long (defaults promise lease TTL + one heartbeat = 6 s). */
const ROUND_TIMEOUT_MS = 30_000;
const NODE_START_TIMEOUT_MS = 60_000;
const OVERALL_LIMIT_MS = 25 * 60_000;

const SESSIONS = 4;
const FILES_PER_SESSION = 250;
const FILE_SIZE = 4096;
const UPLOAD_TIMEOUT_MS = 180_000;
const MEASURED_RUNS = 3;

const USER = 'alice';
const teardown = new Teardown(OVERALL_LIMIT_MS);

function s(ms: number): string {
  return Number.isFinite(ms) ? `${(ms / 1000).toFixed(3)} s` : 'n/a';
}

function load(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');
}

/** Ferry settings come from FERRY_* variables: drop any the caller's shell has, so the defaults apply. */
function clearFerryEnvironment(): void {
  const found = Object.keys(process.env).filter((k) => k.startsWith('FERRY_'));
  for (const k of found) delete process.env[k];
  if (found.length > 0) console.log(`(ignoring ${found.join(', ')} from the environment: this benchmark uses Ferry's defaults)`);
}

interface NodeSlot {
  name: string;
  env: FerryEnv;
  ports: { sftpPort: number; adminPort: number };
  node: BenchNode | undefined;
}

async function slot(name: string, root: string, databaseUrl: string, storageDir: string, mode: string): Promise<NodeSlot> {
  return {
    name,
    env: { dataDir: path.join(root, name), databaseUrl, storageDir, extra: { FERRY_NODE_NAME: name, FERRY_CLUSTER_MODE: mode } },
    ports: { sftpPort: await freePort(), adminPort: await freePort() },
    node: undefined,
  };
}

async function start(sl: NodeSlot): Promise<BenchNode> {
  try {
    sl.node = await startBenchNode(teardown, sl.name, sl.env, sl.ports, { readyTimeoutMs: NODE_START_TIMEOUT_MS });
  } catch (err) {
    teardown.check();
    // A port taken by something else meanwhile: once more on fresh ports.
    console.log(`  (${sl.name} did not start: ${(err as Error).message.split('\n')[0]}; retrying on fresh ports)`);
    sl.ports = { sftpPort: await freePort(), adminPort: await freePort() };
    sl.node = await startBenchNode(teardown, sl.name, sl.env, sl.ports, { readyTimeoutMs: NODE_START_TIMEOUT_MS });
  }
  return sl.node;
}

/** Polls every node's /health/ready until exactly one answers 200 and every other one 503. */
async function findPrimary(slots: NodeSlot[], timeoutMs: number): Promise<NodeSlot> {
  const deadline = performance.now() + timeoutMs;
  let last = '';
  for (let i = 0; i < 10_000 && performance.now() < deadline; i++) {
    teardown.check();
    const codes = await Promise.all(slots.map(async (sl) => (sl.node?.alive() ? (await readyCode(sl.ports.adminPort)).code : -1)));
    last = slots.map((sl, j) => `${sl.name}=${codes[j]}`).join(' ');
    const up = slots.filter((_, j) => codes[j] === 200);
    if (up.length === 1 && codes.every((c) => c === 200 || c === 503)) return up[0]!;
    await sleep(100, teardown.signal);
  }
  throw new Error(`no single primary within ${timeoutMs} ms (last /health/ready codes: ${last})`);
}

/** Waits until a (re)started node reports itself a standby: 503 "standby in active-passive mode". */
async function waitStandby(sl: NodeSlot, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last: { code: number; body: any } = { code: 0, body: undefined };
  for (let i = 0; i < 10_000 && performance.now() < deadline; i++) {
    teardown.check();
    last = await readyCode(sl.ports.adminPort);
    if (last.code === 503 && last.body?.role === 'standby' && last.body?.reason === 'standby in active-passive mode') return;
    await sleep(100, teardown.signal);
  }
  throw new Error(`${sl.name} not a standby within ${timeoutMs} ms (last: ${last.code} ${JSON.stringify(last.body)})`);
}

interface Round {
  round: number;
  killed: string;
  newPrimary?: string;
  readyMs?: number;
  loginMs?: number;
  becamePrimaryMs?: number;
  acceptingMs?: number;
  note?: string;
}

async function failoverPart(pgAdminUrl: string, root: string, keyFile: string, privateKey: Buffer): Promise<Round[]> {
  const databaseUrl = await createDatabase(pgAdminUrl);
  const storage = path.join(root, 'storage');
  const slots = [
    await slot('n1', root, databaseUrl, storage, 'active-passive'),
    await slot('n2', root, databaseUrl, storage, 'active-passive'),
    await slot('n3', root, databaseUrl, storage, 'active-passive'),
  ];
  teardown.add('stop the active-passive nodes', async () => {
    await Promise.all(slots.map((sl) => sl.node?.kill('SIGKILL')));
  });
  const added = await runCli(['account', 'add', USER, '--key', keyFile + '.pub'], slots[0]!.env);
  if (added.code !== 0) throw new Error(`ferry account add failed: ${added.stderr}`);
  for (const sl of slots) await start(sl);
  const first = await findPrimary(slots, 30_000);
  for (const sl of slots) if (sl !== first) await waitStandby(sl, 30_000);
  console.log(`cluster up: ${slots.map((sl) => `${sl.name} (sftp ${sl.ports.sftpPort}, admin ${sl.ports.adminPort})`).join(', ')}; primary ${first.name}`);
  const workers = first.node!.events.find((e) => e.msg === 'node ready')?.line.workers;
  console.log(`defaults: lease TTL 5 s, heartbeat 1 s, ${workers ?? '?'} worker(s) per node; load average ${load()}\n`);

  const rounds: Round[] = [];
  let consecutiveFailures = 0;
  for (let r = 1; r <= ROUNDS; r++) {
    teardown.check();
    const primary = await findPrimary(slots, 30_000);
    // Cross-check with what an operator sees: `ferry cluster status --json`, with a standby's env.
    const standby = slots.find((sl) => sl !== primary)!;
    const status = await runCli(['cluster', 'status', '--json', '--events', '1'], standby.env);
    let statusPrimary: string;
    try {
      statusPrimary = JSON.parse(status.stdout).primary?.node ?? 'none';
    } catch {
      statusPrimary = `unreadable (${status.code}: ${status.stderr.trim().slice(0, 200)})`;
    }
    const round: Round = { round: r, killed: primary.name };
    if (statusPrimary !== primary.name) round.note = `cluster status said primary ${statusPrimary}, /health/ready said ${primary.name}`;
    // A random phase against the 1 s heartbeat, so rounds do not lock onto one point of it.
    await sleep(1000 + Math.floor(Math.random() * 1000), teardown.signal);

    const survivors = slots.filter((sl) => sl !== primary);
    const killWall = Date.now();
    const t0 = performance.now();
    await primary.node!.kill('SIGKILL');
    const deadline = t0 + ROUND_TIMEOUT_MS;

    let winner: { sl: NodeSlot; at: number } | undefined;
    const readyPolls = survivors.map((sl) =>
      pollUntil(
        async () => (await readyCode(sl.ports.adminPort, 1000)).code === 200,
        READY_POLL_MS,
        deadline,
        () => winner !== undefined,
        teardown.signal,
      ).then((at) => {
        if (at !== undefined && !winner) winner = { sl, at };
      }),
    );
    const loginAt = new Map<string, number>();
    const loginPolls = survivors.map((sl) =>
      pollUntil(
        () => sftpLoginOnce(sl.ports.sftpPort, USER, privateKey, 5000),
        LOGIN_POLL_MS,
        deadline,
        () => winner !== undefined && winner.sl !== sl,
        teardown.signal,
      ).then((at) => {
        if (at !== undefined) loginAt.set(sl.name, at);
      }),
    );
    await Promise.all(readyPolls);
    await Promise.all(loginPolls);
    teardown.check();

    if (winner) {
      const w: { sl: NodeSlot; at: number } = winner;
      round.newPrimary = w.sl.name;
      round.readyMs = w.at - t0;
      const login = loginAt.get(w.sl.name);
      if (login !== undefined) round.loginMs = login - t0;
      else round.note = [round.note, `no SFTP login on ${w.sl.name} within ${ROUND_TIMEOUT_MS} ms`].filter(Boolean).join('; ');
      const other = survivors.find((sl) => sl !== w.sl)!;
      if (loginAt.has(other.name)) round.note = [round.note, `standby ${other.name} also accepted a login`].filter(Boolean).join('; ');
      const otherReady = await readyCode(other.ports.adminPort);
      if (otherReady.code !== 503) round.note = [round.note, `${other.name} /health/ready ${otherReady.code} after the failover`].filter(Boolean).join('; ');
      const became = w.sl.node!.events.find((e) => e.msg === 'became primary' && e.at >= killWall - 50);
      const accepting = w.sl.node!.events.find((e) => e.msg === 'accepting client sessions' && e.at >= killWall - 50);
      if (became) round.becamePrimaryMs = became.at - killWall;
      if (accepting) round.acceptingMs = accepting.at - killWall;
      consecutiveFailures = round.loginMs === undefined ? consecutiveFailures + 1 : 0;
    } else {
      round.note = [round.note, `no survivor answered 200 within ${ROUND_TIMEOUT_MS} ms`].filter(Boolean).join('; ');
      consecutiveFailures++;
    }
    rounds.push(round);
    console.log(
      `round ${String(r).padStart(2)}/${ROUNDS}: killed ${round.killed} -> ` +
        (round.newPrimary
          ? `${round.newPrimary} ready after ${s(round.readyMs!)}, first SFTP login+pwd after ${s(round.loginMs ?? NaN)}` +
            `  [its log: became primary +${s(round.becamePrimaryMs ?? NaN)}, accepting sessions +${s(round.acceptingMs ?? NaN)}]`
          : 'no new primary') +
        (round.note ? `  NOTE: ${round.note}` : ''),
    );

    // The killed node comes back on its data dir (same node id) and must rejoin as a standby.
    const restarted = Date.now();
    await start(primary);
    await waitStandby(primary, 30_000);
    console.log(`          ${primary.name} restarted and standing by after ${s(Date.now() - restarted)}`);
    if (consecutiveFailures >= 2) {
      console.log('two rounds in a row without a measured failover: stopping the failover part');
      break;
    }
  }
  await Promise.all(slots.map((sl) => sl.node?.kill('SIGKILL')));
  return rounds;
}

interface UploadRun {
  nodes: number;
  warmup: boolean;
  ms: number;
  filesPerSecond: number;
}

async function throughputPart(pgAdminUrl: string, shmRoot: string, keyFile: string): Promise<UploadRun[]> {
  const databaseUrl = await createDatabase(pgAdminUrl);
  const storage = path.join(shmRoot, 'storage');
  const source = path.join(shmRoot, 'source');
  fs.mkdirSync(source, { recursive: true });
  const names: string[] = [];
  for (let i = 0; i < FILES_PER_SESSION; i++) {
    const name = `f${String(i).padStart(3, '0')}.bin`;
    fs.writeFileSync(path.join(source, name), crypto.randomBytes(FILE_SIZE));
    names.push(name);
  }
  const a = await slot('a1', path.join(shmRoot, 'nodes'), databaseUrl, storage, 'active-active');
  const b = await slot('a2', path.join(shmRoot, 'nodes'), databaseUrl, storage, 'active-active');
  teardown.add('stop the active-active nodes', async () => {
    await Promise.all([a, b].map((sl) => sl.node?.kill('SIGKILL')));
  });
  const added = await runCli(['account', 'add', USER, '--key', keyFile + '.pub'], a.env);
  if (added.code !== 0) throw new Error(`ferry account add failed: ${added.stderr}`);

  const waitReady = async (sl: NodeSlot) => {
    for (let i = 0; i < 300; i++) {
      teardown.check();
      if ((await readyCode(sl.ports.adminPort)).code === 200) return;
      await sleep(100, teardown.signal);
    }
    throw new Error(`${sl.name} not ready within 30 s`);
  };

  const runs: UploadRun[] = [];
  let seq = 0;
  const run = async (nodes: NodeSlot[], warmup: boolean) => {
    teardown.check();
    const tag = `run${++seq}`;
    const t0 = performance.now();
    const results = await Promise.all(
      Array.from({ length: SESSIONS }, (_, i) => {
        const sl = nodes[i % nodes.length]!;
        const dir = `${tag}-s${i}`;
        const login: Login = { port: sl.ports.sftpPort, user: USER, keyFile, dir: shmRoot };
        return sftpBatch(login, [`mkdir ${dir}`, `cd ${dir}`, `lcd ${source}`, ...names.map((n) => `put ${n}`)], [], UPLOAD_TIMEOUT_MS);
      }),
    );
    const ms = performance.now() - t0;
    results.forEach((r, i) => {
      if (r.code !== 0) throw new Error(`${tag} session ${i}: sftp exited ${r.code}: ${r.stderr.trim().slice(0, 500)}`);
    });
    // Every file must be there, whole: a fast failure must not pass for a fast upload.
    for (let i = 0; i < SESSIONS; i++) {
      const dir = path.join(storage, USER, `${tag}-s${i}`);
      const files = fs.readdirSync(dir);
      const whole = files.filter((f) => fs.statSync(path.join(dir, f)).size === FILE_SIZE).length;
      if (files.length !== FILES_PER_SESSION || whole !== FILES_PER_SESSION) {
        throw new Error(`${tag} session ${i}: ${files.length} files, ${whole} of ${FILE_SIZE} bytes, in ${dir}`);
      }
    }
    const total = SESSIONS * FILES_PER_SESSION;
    const entry: UploadRun = { nodes: nodes.length, warmup, ms, filesPerSecond: total / (ms / 1000) };
    runs.push(entry);
    console.log(
      `  ${nodes.length} node${nodes.length > 1 ? 's' : ' '}${warmup ? ' (warm-up)' : '          '}: ${total} files in ${s(ms)} = ${entry.filesPerSecond.toFixed(0)} files/s` +
        `  (sessions on ${Array.from({ length: SESSIONS }, (_, i) => nodes[i % nodes.length]!.name).join(',')}; load ${load()})`,
    );
  };

  await start(a);
  await waitReady(a);
  const workers = a.node!.events.find((e) => e.msg === 'node ready')?.line.workers;
  console.log(
    `${SESSIONS} sessions x ${FILES_PER_SESSION} files x ${FILE_SIZE} B; ${workers ?? '?'} workers per node (default: one per core); storage ${storage}`,
  );
  // A-B-A: one node, two nodes, one node again, so drift in the machine's other load hits both sides.
  await run([a], true);
  for (let i = 0; i < MEASURED_RUNS; i++) await run([a], false);
  await start(b);
  await waitReady(b);
  await run([a, b], true);
  for (let i = 0; i < MEASURED_RUNS; i++) await run([a, b], false);
  await b.node!.stop(15_000);
  b.node = undefined;
  for (let i = 0; i < MEASURED_RUNS; i++) await run([a], false);
  await a.node!.kill('SIGKILL');
  return runs;
}

async function main(): Promise<void> {
  clearFerryEnvironment();
  console.log(`Ferry failover benchmark — ${os.cpus().length} CPU(s) (${os.cpus()[0]?.model ?? '?'}), node ${process.version}, load average ${load()}`);
  console.log('This machine is shared: every node, PostgreSQL, the clients and this script run on the same cores; figures are noisy.\n');
  const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-bench-failover-'));
  teardown.add('remove ' + tmpRoot, () => fs.rmSync(tmpRoot, { recursive: true, force: true }));
  const shmBase = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const shmRoot = fs.mkdtempSync(path.join(shmBase, 'ferry-bench-failover-'));
  teardown.add('remove ' + shmRoot, () => fs.rmSync(shmRoot, { recursive: true, force: true }));
  const keyFile = sshKeygen(tmpRoot);
  const privateKey = fs.readFileSync(keyFile);

  const pg = await withTimeout('start PostgreSQL', startPostgres(), 120_000, teardown.signal);
  teardown.add('stop PostgreSQL', () => pg.stop(), 60_000);

  console.log(`== Part 1: failover, 3 nodes, active-passive, default settings, ${ROUNDS} rounds ==`);
  const rounds = await failoverPart(pg.adminUrl, path.join(tmpRoot, 'active-passive'), keyFile, privateKey);

  console.log(`\n== Part 2: small-file uploads, active-active, 1 node vs 2 nodes ==`);
  const runs = await throughputPart(pg.adminUrl, shmRoot, keyFile);

  const ready = rounds.filter((r) => r.readyMs !== undefined).map((r) => r.readyMs!);
  const login = rounds.filter((r) => r.loginMs !== undefined).map((r) => r.loginMs!);
  const became = rounds.filter((r) => r.becamePrimaryMs !== undefined).map((r) => r.becamePrimaryMs!);
  const one = runs.filter((r) => r.nodes === 1 && !r.warmup).map((r) => r.filesPerSecond);
  const two = runs.filter((r) => r.nodes === 2 && !r.warmup).map((r) => r.filesPerSecond);

  console.log('\n== Summary ==');
  console.log(`failover (${rounds.length} rounds, ${ready.length} measured; goal <= ${GOAL_MS / 1000} s with defaults):`);
  const line = (what: string, v: number[]) =>
    console.log(
      `  ${what.padEnd(40)} median ${s(median(v))} (${(median(v) / GOAL_MS).toFixed(2)} x goal)   max ${s(max(v))} (${(max(v) / GOAL_MS).toFixed(2)} x goal)   n=${v.length}`,
    );
  line('(a) kill -> new primary /health/ready 200', ready);
  line('(b) kill -> first SFTP login + pwd', login);
  line('    (new primary logged "became primary")', became);
  const failed = rounds.filter((r) => r.loginMs === undefined).length;
  if (failed > 0) console.log(`  ${failed} round(s) without a measured login: see the NOTEs above`);
  const notes = rounds.filter((r) => r.note).length;
  if (notes > 0) console.log(`  ${notes} round(s) with a NOTE above`);
  console.log(`uploads (${SESSIONS} sessions x ${FILES_PER_SESSION} files of ${FILE_SIZE / 1024} KiB; median of the measured runs):`);
  console.log(`  1 node : ${median(one).toFixed(0)} files/s   (runs: ${one.map((v) => v.toFixed(0)).join(', ')})`);
  console.log(`  2 nodes: ${median(two).toFixed(0)} files/s   (runs: ${two.map((v) => v.toFixed(0)).join(', ')})`);
  console.log(`  ratio 2 nodes / 1 node: ${(median(two) / median(one)).toFixed(2)}`);
  console.log(
    `  caveat: ${os.cpus().length} CPU core(s) shared by both nodes, their workers, PostgreSQL, the ${SESSIONS} sftp/ssh clients, this script and other work;` +
      ' a second node on the same cores adds processes, not CPU, so this ratio says nothing about scale-out on separate machines.',
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
    process.exit(exitCode);
  });
