import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { openDatabase } from '../src/db/connect.js';
import { migrations as allMigrations } from '../src/db/migrations.js';
import { freshDatabaseUrl, preparedDatabaseUrl, tempDir } from './harness/databases.js';
import { runFerry, startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';
import { sha256File, writeRandomFile } from './harness/files.js';
import { sftpSpawn, sshKeygen, type Login } from './harness/openssh.js';

const dirs: string[] = [];
const nodes: RunningNode[] = [];
after(async () => {
  for (const n of nodes) await n.kill('SIGKILL');
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function hostKeys(port: number): string {
  return execFileSync('ssh-keyscan', ['-p', String(port), '-t', 'ed25519,rsa', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'ignore'] })
    .toString()
    .split('\n')
    .map((l) => l.replace(/^\S+\s/, ''))
    .filter(Boolean)
    .sort()
    .join('\n');
}

describe('node lifecycle', () => {
  it('starts three nodes at once on one empty PostgreSQL: one schema, one set of host keys', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const databaseUrl = await freshDatabaseUrl('postgres', dir);
    const started = await Promise.all(
      ['a', 'b', 'c'].map((name) =>
        startNode({ dataDir: path.join(dir, name), databaseUrl, storageDir: path.join(dir, 'storage'), extra: { FERRY_NODE_NAME: name } }),
      ),
    );
    nodes.push(...started);
    const db = openDatabase(databaseUrl);
    try {
      const migrations = await db.db
        .selectFrom('ferry_migrations' as any)
        .selectAll()
        .execute();
      assert.deepEqual(migrations.map((m: any) => m.name).sort(), Object.keys(allMigrations('postgres')).sort());
      const keys = await db.db.selectFrom('host_keys').select('algorithm').execute();
      assert.deepEqual(keys.map((k) => k.algorithm).sort(), ['ssh-ed25519', 'ssh-rsa']);
      const registered = await db.db.selectFrom('nodes').select('name').execute();
      assert.deepEqual(registered.map((n) => n.name).sort(), ['a', 'b', 'c']);
    } finally {
      await db.close();
    }
    const presented = started.map((n) => hostKeys(n.sftpPort));
    assert.ok(presented[0]!.includes('ssh-ed25519') && presented[0]!.includes('ssh-rsa'));
    assert.equal(presented[1], presented[0]);
    assert.equal(presented[2], presented[0]);
    for (const n of started) assert.equal(await n.stop(), 0);
  });

  for (const [graceSeconds, outcome] of [
    [20, 'completed'],
    [1, 'aborted'],
  ] as const) {
    it(`on SIGTERM lets a running upload finish within a ${graceSeconds}s grace, else records it ${outcome}`, async () => {
      const dir = tempDir();
      dirs.push(dir);
      const env: FerryEnv = {
        dataDir: path.join(dir, 'data'),
        databaseUrl: await preparedDatabaseUrl('sqlite', dir),
        extra: { FERRY_SHUTDOWN_GRACE: `${graceSeconds}s` },
      };
      const key = sshKeygen(dir);
      assert.equal((await runFerry(['account', 'add', 'alice', '--key', key + '.pub'], env)).code, 0);
      const node = await startNode(env);
      nodes.push(node);
      const source = path.join(dir, 'slow.bin');
      const hash = writeRandomFile(source, 16 * 1024 * 1024, 9);
      const login: Login = { port: node.sftpPort, user: 'alice', keyFile: key, dir };
      // About 4 s at 32,000 Kbit/s.
      const client = sftpSpawn(login, [`put ${source} slow.bin`], ['-l', '32000']);
      await node.waitForLog((l) => l.msg === 'upload started');
      await new Promise((r) => setTimeout(r, 500));
      const stoppedAt = Date.now();
      assert.equal(await node.stop(), 0);
      const took = Date.now() - stoppedAt;
      const clientCode = await client.exited;
      const row = JSON.parse((await runFerry(['transfers', 'list', '--json'], env)).stdout)[0];
      assert.equal(row.status, outcome);
      const final = path.join(env.dataDir, 'files', 'alice', 'slow.bin');
      if (outcome === 'completed') {
        assert.equal(clientCode, 0);
        assert.equal(sha256File(final), hash);
        assert.equal(row.sha256, hash);
      } else {
        assert.notEqual(clientCode, 0);
        assert.match(row.error, /shut down/);
        assert.equal(fs.existsSync(final), false);
        assert.ok(took < 10_000, `stopped after the grace period (${took} ms)`);
      }
      await client.killHard();
    });
  }
});
