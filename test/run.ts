/**
 * The test command: checks (as root: installs) the programs the tests drive, starts
 * one private PostgreSQL for the whole run (tests create
 * their own databases in it), then runs every *.test.js with Node's test runner.
 * Arguments narrow the run to test files whose path under test/ contains one of them
 * (not the checkout's own path: a worktree named edge-something would match them all).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
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

const postgres = await startPostgres();
let code: number;
try {
  const child = spawn(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], {
    stdio: 'inherit',
    env: { ...process.env, FERRY_TEST_POSTGRES_URL: postgres.adminUrl },
  });
  code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
} finally {
  await postgres.stop();
}
process.exit(code);
