/**
 * The test command: checks (as root: installs) the programs the tests drive, starts
 * one private PostgreSQL for the whole run (tests create
 * their own databases in it), then runs every *.test.js with Node's test runner.
 * Arguments narrow the run to test files whose path under test/ contains one of them
 * (not the checkout's own path: a worktree named edge-something would match them all).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HOST_KEYS_ENV, writeRunHostKeys } from './harness/host-keys.js';
import { startPostgres } from './harness/postgres.js';
import { ensurePrerequisites } from './prerequisites.js';

const here = path.dirname(fileURLToPath(import.meta.url));

function testFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? testFiles(path.join(dir, e.name)) : e.name.endsWith('.test.js') ? [path.join(dir, e.name)] : []))
    .sort();
}

/**
 * `--fast` (npm run test:fast): the files that need no cluster, no edge and no
 * browser, about half a minute: configuration, paths, the SFTP protocol against
 * one node, the transfer log's statements, the scheduler on a test clock.
 */
const FAST = [
  'config',
  'dependency-engines',
  'home-paths',
  'host-keys',
  'logger',
  'padding-pool',
  'scheduler-clock',
  'sftp-conformance',
  'sqlite-transactions',
  'test-prerequisites',
  'transfer-log-indexes',
  'transfer-log-statements',
];

const args = process.argv.slice(2);
const filters = args.includes('--fast') ? [...FAST, ...args.filter((a) => a !== '--fast')] : args;
const files = testFiles(here).filter((f) => filters.length === 0 || filters.some((x) => path.relative(here, f).includes(x)));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}

if (!ensurePrerequisites()) process.exit(2);

/**
 * Test files that assert how soon a cluster reacts (a failover within the lease
 * TTL, a heartbeat seen late, a lease kept across a database restart): they run
 * after the others, two at a time on an otherwise idle machine, so that a busy
 * neighbour cannot make them late.
 */
const ALONE = ['cluster', 'database-restart'];

/**
 * The others run three files at a time (FERRY_TEST_CONCURRENCY): most of a test's
 * time is spent in the processes it starts (nodes, clients, the CLI), which wait
 * on each other as often as they compute. Each file has its own databases,
 * directories and ports (test/harness/ports.ts).
 */
const concurrency = Math.max(1, Number(process.env.FERRY_TEST_CONCURRENCY ?? 3) || 1);
/** The longest files start first, so that the run does not end waiting for one of them. */
const LONGEST = ['routing-cluster', 'routing.test', 'snapshot', 'defender', 'backup', 'edge-haproxy', 'transfer-log-crash', 'capacity'];
const rank = (f: string) => {
  const i = LONGEST.findIndex((name) => path.basename(f).startsWith(name));
  return i < 0 ? LONGEST.length : i;
};
const alone = files.filter((f) => ALONE.some((name) => path.basename(f).startsWith(name)));
const together = files.filter((f) => !alone.includes(f)).sort((a, b) => rank(a) - rank(b));

function runFiles(batch: string[], filesAtOnce: number): Promise<number> {
  if (batch.length === 0) return Promise.resolve(0);
  const child = spawn(process.execPath, ['--test', `--test-concurrency=${filesAtOnce}`, '--test-reporter=spec', ...batch], {
    stdio: 'inherit',
    env: { ...process.env, FERRY_TEST_POSTGRES_URL: postgres.adminUrl, [HOST_KEYS_ENV]: hostKeys },
  });
  return new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
}

const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-test-run-'));
const hostKeys = await writeRunHostKeys(runDir);
const postgres = await startPostgres();
let code: number;
try {
  const first = await runFiles(together, concurrency);
  const second = await runFiles(alone, 2);
  code = first || second;
} finally {
  await postgres.stop();
  fs.rmSync(runDir, { recursive: true, force: true });
}
process.exit(code);
