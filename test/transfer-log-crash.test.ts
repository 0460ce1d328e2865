import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DATABASE_KINDS, preparedDatabaseUrl, tempDir } from './harness/databases.js';
import { runFerry, startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';
import { sha256File, writeRandomFile } from './harness/files.js';
import { sftpBatch, sftpSpawn, sshKeygen, type Login } from './harness/openssh.js';
import { waitFor } from './harness/wait.js';

const SIZE = 32 * 1024 * 1024;

async function transfers(env: FerryEnv): Promise<any[]> {
  const result = await runFerry(['transfers', 'list', '--json'], env);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout);
}

function partialSize(storage: string): number {
  const root = path.join(storage, '.partial');
  if (!fs.existsSync(root)) return 0;
  return fs
    .readdirSync(root)
    .flatMap((a) =>
      fs
        .readdirSync(path.join(root, a))
        .filter((f) => f.endsWith('.part'))
        .map((f) => fs.statSync(path.join(root, a, f)).size),
    )
    .reduce((a, b) => Math.max(a, b), 0);
}

for (const kind of DATABASE_KINDS) {
  describe(`the transfer log survives a killed node (${kind})`, () => {
    let dir: string;
    let storage: string;
    let envA: FerryEnv;
    let envB: FerryEnv;
    let nodeA: RunningNode | undefined;
    let nodeB: RunningNode | undefined;
    let key: string;
    let source: string;
    let sourceHash: string;

    before(async () => {
      dir = tempDir();
      storage = path.join(dir, 'shared-storage');
      const databaseUrl = await preparedDatabaseUrl(kind, dir);
      // Two nodes sharing one database and one storage directory, with short liveness settings.
      const extra = { FERRY_NODE_DEAD_AFTER: '3s', FERRY_NODE_HEARTBEAT_INTERVAL: '500ms' };
      envA = { dataDir: path.join(dir, 'a'), databaseUrl, storageDir: storage, extra: { ...extra, FERRY_NODE_NAME: 'node-a' } };
      envB = { dataDir: path.join(dir, 'b'), databaseUrl, storageDir: storage, extra: { ...extra, FERRY_NODE_NAME: 'node-b' } };
      key = sshKeygen(dir);
      assert.equal((await runFerry(['account', 'add', 'alice', '--key', key + '.pub'], envA)).code, 0);
      source = path.join(dir, 'source.bin');
      sourceHash = writeRandomFile(source, SIZE, 11);
    });

    after(async () => {
      await nodeA?.kill('SIGKILL');
      await nodeB?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('keeps the row of a SIGKILLed node, marks it aborted (never completed) from another node, and the upload resumes there', async () => {
      nodeA = await startNode(envA);
      nodeB = await startNode(envB);
      const loginA: Login = { port: nodeA.sftpPort, user: 'alice', keyFile: key, dir };
      const client = sftpSpawn(loginA, [`put ${source} big.bin`], ['-l', '64000']);
      await waitFor('8 MiB uploaded to node A', async () => partialSize(storage) > 8 * 1024 * 1024 || undefined);
      await nodeA.kill('SIGKILL');
      nodeA = undefined;
      await client.killHard();

      const inFlight = (await transfers(envB)).find((r) => r.path === '/big.bin');
      assert.ok(inFlight, 'the row of the killed node is still there');
      assert.notEqual(inFlight.status, 'completed');
      const aborted = await waitFor('node B marks the row aborted', async () => {
        const row = (await transfers(envB)).find((r) => r.id === inFlight.id);
        return row.status === 'aborted' ? row : undefined;
      });
      assert.match(aborted.error, /stopped heartbeating/);
      assert.equal(fs.existsSync(path.join(storage, 'alice', 'big.bin')), false, 'no half file under the final name');

      // The client reconnects to the surviving node and resumes from the partial data on shared storage.
      const loginB: Login = { port: nodeB.sftpPort, user: 'alice', keyFile: key, dir };
      const resumed = await sftpBatch(loginB, [`reput ${source} big.bin`]);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.equal(sha256File(path.join(storage, 'alice', 'big.bin')), sourceHash);
      const rows = (await transfers(envB)).filter((r) => r.path === '/big.bin').sort((a, b) => a.id - b.id);
      assert.deepEqual(
        rows.map((r) => r.status),
        ['aborted', 'completed'],
      );
      assert.ok(rows[1].offset > 8 * 1024 * 1024);
      assert.equal(rows[1].sha256, sourceHash);
    });

    it('marks its own unfinished rows aborted when a killed node restarts alone', async () => {
      await nodeB?.stop();
      nodeB = undefined;
      nodeA = await startNode(envA);
      const login: Login = { port: nodeA.sftpPort, user: 'alice', keyFile: key, dir };
      const client = sftpSpawn(login, [`put ${source} again.bin`], ['-l', '64000']);
      await waitFor('4 MiB uploaded', async () => partialSize(storage) > 4 * 1024 * 1024 || undefined);
      await nodeA.kill('SIGKILL');
      await client.killHard();
      const before = (await transfers(envA)).find((r) => r.path === '/again.bin');
      assert.equal(before.status, 'in-progress');
      nodeA = await startNode(envA);
      const after = (await transfers(envA)).find((r) => r.id === before.id);
      assert.equal(after.status, 'aborted');
      assert.match(after.error, /node restarted/);
    });

    it('marks the rows of a crashed worker aborted and replaces the worker', async () => {
      const login: Login = { port: nodeA!.sftpPort, user: 'alice', keyFile: key, dir };
      const client = sftpSpawn(login, [`put ${source} worker.bin`], ['-l', '64000']);
      const started = await waitFor('upload started', async () => nodeA!.logs.find((l) => l.msg === 'upload started' && l.path === '/worker.bin'));
      process.kill(started.worker, 'SIGKILL');
      const row = await waitFor('row aborted', async () => {
        const r = (await transfers(envA)).find((t) => t.path === '/worker.bin');
        return r?.status === 'aborted' ? r : undefined;
      });
      assert.match(row.error, /worker process died/);
      await client.killHard();
      await nodeA!.waitForLog((l) => l.msg === 'worker died; starting a new one');
      // The replacement worker serves.
      let ok = false;
      for (let i = 0; i < 30 && !ok; i++) {
        ok = (await sftpBatch(login, ['pwd'])).code === 0;
        if (!ok) await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(ok, 'a new worker serves logins');
    });
  });
}
