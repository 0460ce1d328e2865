import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../src/db/connect.js';
import { preparedDatabaseUrl, tempDir } from './harness/databases.js';
import { FERRY_MAIN, ferryEnv, ferryOk, type FerryEnv } from './harness/ferry.js';

// Enough rows that the output (well over 64 KiB) cannot fit in the pipe before `head` exits.
const ROWS = 2000;

/** Runs `ferry ARGS | head -N` in bash; returns head's output, the shell's stderr and ferry's own status. */
function pipeToHead(env: FerryEnv, args: string[], lines: number): Promise<{ stdout: string; stderr: string; ferryStatus: number }> {
  const quoted = [process.execPath, FERRY_MAIN, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const script = `${quoted} | head -${lines}; echo "ferry-status=\${PIPESTATUS[0]}" >&2`;
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { env: ferryEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', () => {
      const status = /ferry-status=(\d+)\n$/.exec(stderr);
      if (!status) return reject(new Error(`no status from the pipeline: ${stderr}`));
      resolve({ stdout, stderr: stderr.slice(0, status.index), ferryStatus: Number(status[1]) });
    });
  });
}

describe('ferry output into a pipe that closes early (head)', () => {
  let dir: string;
  let env: FerryEnv;

  before(async () => {
    dir = tempDir();
    env = { dataDir: path.join(dir, 'data'), databaseUrl: await preparedDatabaseUrl('sqlite', dir) };
    await ferryOk(env, ['account', 'list']);
    const handle = openDatabase(env.databaseUrl);
    try {
      const now = Date.now();
      const transfers = Array.from({ length: ROWS }, (_, i) => ({
        node_id: 'node-id',
        worker_pid: 1,
        session_id: `s${i}`,
        account: 'alice',
        protocol: 'sftp',
        client_address: '127.0.0.1',
        path: `/incoming/report-${i}.csv`,
        direction: 'upload' as const,
        start_offset: 0,
        bytes: 1000 + i,
        started_at: now - 60_000 + i,
        ended_at: now - 30_000 + i,
        sha256: null,
        status: 'completed' as const,
        error: null,
      }));
      for (let i = 0; i < ROWS; i += 500)
        await handle.db
          .insertInto('transfers')
          .values(transfers.slice(i, i + 500))
          .execute();
      const events = Array.from({ length: ROWS }, (_, i) => ({
        at: now - ROWS + i,
        kind: 'node-joined' as const,
        node_id: 'node-id',
        node_name: 'node-a',
        detail: `mode active-active, event ${i}`,
      }));
      for (let i = 0; i < ROWS; i += 500)
        await handle.db
          .insertInto('cluster_events')
          .values(events.slice(i, i + 500))
          .execute();
    } finally {
      await handle.close();
    }
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  // Like `seq 1 1000000 | head -1`: ferry dies of SIGPIPE (the shell shows 141), silently.
  for (const [args, lines, first] of [
    [['transfers', 'list', '--limit', String(ROWS)], 2, /^ID\s+/],
    [['cluster', 'status', '--events', String(ROWS)], 1, /^mode: /],
    [['transfers', 'list', '--limit', String(ROWS), '--json'], 2, /^\[\n\s+\{\n$/],
  ] as Array<[string[], number, RegExp]>) {
    it(`ferry ${args.join(' ')} | head -${lines} ends quietly`, async () => {
      const r = await pipeToHead(env, args, lines);
      assert.match(r.stdout, first);
      assert.equal(r.stdout.split('\n').length, lines + 1, r.stdout);
      assert.equal(r.stderr, '', 'no EPIPE, no stack trace');
      assert.equal(r.ferryStatus, 141, 'the status of a tool killed by SIGPIPE, as seq shows');
    });
  }

  it('still prints everything into a pipe that stays open', async () => {
    const r = await pipeToHead(env, ['transfers', 'list', '--limit', String(ROWS)], ROWS + 10);
    assert.equal(r.stdout.trimEnd().split('\n').length, ROWS + 1);
    assert.equal(r.ferryStatus, 0, r.stderr);
  });
});
