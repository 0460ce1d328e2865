import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { preparedDatabaseUrl, tempDir } from './harness/databases.js';
import { execFileSync } from 'node:child_process';
import { FERRY_MAIN, ferryEnv, runFerry, startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';
import { sha256File, writeRandomFile } from './harness/files.js';
import { sftpBatch, sftpSpawn, sshKeygen, type Login } from './harness/openssh.js';
import { waitFor } from './harness/wait.js';

const SIZE = 24 * 1024 * 1024;
/** sftp -l is in Kbit/s: 64,000 Kbit/s ≈ 8 MB/s, so a 24 MiB transfer takes ~3 s. */
const SLOW = ['-l', '64000'];

function partialFiles(storage: string): string[] {
  const root = path.join(storage, '.partial');
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root).flatMap((a) => fs.readdirSync(path.join(root, a)).map((f) => path.join(root, a, f)));
}

// A protocol test: which database keeps the rows is not what it tests (the account store and the
// transfer log have tests of their own on both kinds), so it runs on one, postgres.
for (const kind of ['postgres'] as const) {
  describe(`interrupted transfers resume (${kind})`, () => {
    let dir: string;
    let env: FerryEnv;
    let node: RunningNode;
    let login: Login;
    let storage: string;

    before(async () => {
      dir = tempDir();
      env = { dataDir: path.join(dir, 'data'), databaseUrl: await preparedDatabaseUrl(kind, dir) };
      storage = path.join(env.dataDir, 'files');
      const key = sshKeygen(dir);
      assert.equal((await runFerry(['account', 'add', 'alice', '--key', key + '.pub'], env)).code, 0);
      node = await startNode(env);
      login = { port: node.sftpPort, user: 'alice', keyFile: key, dir };
    });

    after(async () => {
      await node?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('keeps the previous version visible during an upload, and resumes an interrupted one with reput', async () => {
      const v1 = path.join(dir, 'v1.bin');
      const v1Hash = writeRandomFile(v1, 1000, 1);
      const v2 = path.join(dir, 'v2.bin');
      const v2Hash = writeRandomFile(v2, SIZE, 2);
      assert.equal((await sftpBatch(login, [`put ${v1} report.bin`])).code, 0);

      const client = sftpSpawn(login, [`put ${v2} report.bin`], SLOW);
      const partial = await waitFor('partial upload of 4 MiB', () =>
        partialFiles(storage).find((f) => f.endsWith('.part') && fs.statSync(f).size > 4 * 1024 * 1024),
      );
      // While the upload runs, readers see the previous version under the final name.
      const during = path.join(dir, 'during.bin');
      assert.equal((await sftpBatch(login, [`get report.bin ${during}`])).code, 0);
      assert.equal(sha256File(during), v1Hash);
      await client.killHard();

      const kept = fs.statSync(partial).size;
      assert.ok(kept > 4 * 1024 * 1024 && kept < SIZE, `partial data kept (${kept} bytes)`);
      assert.equal(sha256File(path.join(storage, 'alice', 'report.bin')), v1Hash, 'the final name still holds v1');
      const resumed = await sftpBatch(login, [`reput ${v2} report.bin`]);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.equal(sha256File(path.join(storage, 'alice', 'report.bin')), v2Hash);
      assert.deepEqual(partialFiles(storage), [], 'no partial file left');

      const rows = JSON.parse((await runFerry(['transfers', 'list', '--json', '--account', 'alice'], env)).stdout) as any[];
      const uploads = rows.filter((r) => r.direction === 'upload' && r.path === '/report.bin').sort((a, b) => a.id - b.id);
      assert.equal(uploads.length, 3);
      assert.equal(uploads[1].status, 'aborted');
      assert.match(uploads[1].error, /connection closed/);
      assert.equal(uploads[2].status, 'completed');
      assert.ok(uploads[2].offset > 4 * 1024 * 1024, `resumed from ${uploads[2].offset}`);
      assert.equal(uploads[2].bytes, SIZE);
      assert.equal(uploads[2].sha256, v2Hash, 'the logged hash covers the whole file, not just the resumed part');
    });

    it('resumes an interrupted download with reget', async () => {
      const source = path.join(dir, 'dl.bin');
      const hash = writeRandomFile(source, SIZE, 3);
      assert.equal((await sftpBatch(login, [`put ${source} dl.bin`])).code, 0);
      const local = path.join(dir, 'dl.local');
      const client = sftpSpawn(login, [`get dl.bin ${local}`], SLOW);
      await waitFor('4 MiB downloaded', () => fs.existsSync(local) && fs.statSync(local).size > 4 * 1024 * 1024);
      await client.killHard();
      const got = fs.statSync(local).size;
      assert.ok(got < SIZE);
      const interrupted = await waitFor(
        'the interrupted download logged aborted',
        () => {
          const rows = JSON.parse(
            execFileSync(process.execPath, [FERRY_MAIN, 'transfers', 'list', '--json', '--account', 'alice'], { env: ferryEnv(env) }).toString(),
          ) as any[];
          const row = rows.find((r) => r.direction === 'download' && r.path === '/dl.bin');
          return row?.status === 'aborted' ? row : undefined;
        },
        10_000,
      );
      assert.match(interrupted.error, /connection closed/);
      const resumed = await sftpBatch(login, [`reget dl.bin ${local}`]);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.equal(sha256File(local), hash);
      const rows = JSON.parse((await runFerry(['transfers', 'list', '--json', '--account', 'alice'], env)).stdout) as any[];
      const downloads = rows.filter((r) => r.direction === 'download' && r.path === '/dl.bin').sort((a, b) => a.id - b.id);
      assert.equal(downloads.at(-1).status, 'completed');
      assert.ok(downloads.at(-1).offset > 0, 'the resumed download started past 0');
    });

    it('removes partial uploads older than storage.partial_max_age', async () => {
      const stale = path.join(storage, '.partial', '999', 'stale.part');
      fs.mkdirSync(path.dirname(stale), { recursive: true });
      fs.writeFileSync(stale, 'old');
      const old = (Date.now() - 3 * 86_400_000) / 1000;
      fs.utimesSync(stale, old, old);
      const fresh = path.join(storage, '.partial', '999', 'fresh.part');
      fs.writeFileSync(fresh, 'new');
      await node.stop();
      node = await startNode(env);
      login.port = node.sftpPort;
      await waitFor('stale partial removed', () => !fs.existsSync(stale), 15_000);
      assert.equal(fs.existsSync(fresh), true);
    });
  });
}
