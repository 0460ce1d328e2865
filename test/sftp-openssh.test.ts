import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { preparedDatabaseUrl, tempDir } from './harness/databases.js';
import { runFerry, startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';
import { sha256File, writeRandomFile } from './harness/files.js';
import { scp, sftpBatch, sshKeygen, type Login } from './harness/openssh.js';

// A protocol test: which database keeps the rows is not what it tests (the account store and the
// transfer log have tests of their own on both kinds), so it runs on one, sqlite.
for (const kind of ['sqlite'] as const) {
  describe(`OpenSSH sftp and scp against a node on ${kind}`, () => {
    let dir: string;
    let env: FerryEnv;
    let node: RunningNode;
    let keyLogin: Login;
    let passwordLogin: Login;

    before(async () => {
      dir = tempDir();
      env = { dataDir: path.join(dir, 'data'), databaseUrl: await preparedDatabaseUrl(kind, dir) };
      const key = sshKeygen(dir);
      const added = await runFerry(['account', 'add', 'alice', '--key', key + '.pub'], env);
      assert.equal(added.code, 0, added.stderr);
      const withPassword = await runFerry(['account', 'add', 'bob', '--password-stdin'], env, 'correct horse\n');
      assert.equal(withPassword.code, 0, withPassword.stderr);
      node = await startNode(env, { workers: 2 });
      keyLogin = { port: node.sftpPort, user: 'alice', keyFile: key, dir };
      passwordLogin = { port: node.sftpPort, user: 'bob', password: 'correct horse', dir };
    });

    after(async () => {
      await node?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('puts and gets a file with the same SHA-256, and logs both transfers with that hash', async () => {
      const source = path.join(dir, 'source.bin');
      const hash = writeRandomFile(source, 5 * 1024 * 1024 + 123);
      const back = path.join(dir, 'back.bin');
      const result = await sftpBatch(keyLogin, [`put ${source} data.bin`, `get data.bin ${back}`]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(sha256File(back), hash);
      assert.equal(sha256File(path.join(env.dataDir, 'files', 'alice', 'data.bin')), hash);

      const list = await runFerry(['transfers', 'list', '--account', 'alice', '--json'], env);
      assert.equal(list.code, 0, list.stderr);
      const rows = JSON.parse(list.stdout) as any[];
      const upload = rows.find((r) => r.direction === 'upload' && r.path === '/data.bin');
      const download = rows.find((r) => r.direction === 'download' && r.path === '/data.bin');
      for (const row of [upload, download]) {
        assert.ok(row, 'transfer row exists');
        assert.equal(row.status, 'completed');
        assert.equal(row.bytes, 5 * 1024 * 1024 + 123);
        assert.equal(row.sha256, hash);
        assert.equal(row.protocol, 'sftp');
        assert.equal(row.client, '127.0.0.1');
        assert.ok(row.started && row.ended && row.node && row.id > 0);
      }
    });

    it('logs the true SHA-256 of a download after the file changed in place, even at the same size', async () => {
      const remote = path.join(env.dataDir, 'files', 'alice', 'data.bin');
      const bytes = fs.readFileSync(remote);
      bytes[12345] ^= 0xff;
      fs.writeFileSync(remote, bytes);
      const back = path.join(dir, 'changed.bin');
      const result = await sftpBatch(keyLogin, [`get data.bin ${back}`]);
      assert.equal(result.code, 0, result.stderr);
      const rows = JSON.parse((await runFerry(['transfers', 'list', '--account', 'alice', '--json'], env)).stdout) as any[];
      const latest = rows.find((r) => r.direction === 'download' && r.path === '/data.bin');
      assert.equal(latest.sha256, sha256File(back));
      assert.equal(latest.sha256, sha256File(remote));
    });

    it('logs in with a password and is refused with a wrong one', async () => {
      const ok = await sftpBatch(passwordLogin, ['pwd']);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /Remote working directory: \//);
      const bad = await sftpBatch({ ...passwordLogin, password: 'wrong' }, ['pwd']);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /Permission denied/);
    });

    it('runs mkdir, ls, rename, chmod, rm, rmdir and df as OpenSSH sftp users expect', async () => {
      const small = path.join(dir, 'small.txt');
      fs.writeFileSync(small, 'hello ferry\n');
      const result = await sftpBatch(keyLogin, [
        'mkdir inbox',
        `put ${small} inbox/a.txt`,
        'rename inbox/a.txt inbox/b.txt',
        'chmod 600 inbox/b.txt',
        'ls -l inbox',
        'df',
        'rm inbox/b.txt',
        'rmdir inbox',
        'ls',
      ]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /-rw------- .* 12 .* b\.txt/);
      assert.match(result.stdout, /Size\s+Used\s+Avail/);
      assert.equal(fs.existsSync(path.join(env.dataDir, 'files', 'alice', 'inbox')), false);
    });

    it('renames over an existing file with posix-rename, and refuses with a legacy rename', async () => {
      const a = path.join(dir, 'a.txt');
      const b = path.join(dir, 'b.txt');
      fs.writeFileSync(a, 'A');
      fs.writeFileSync(b, 'B');
      const legacy = await sftpBatch(keyLogin, [`put ${a} r1.txt`, `put ${b} r2.txt`, '-rename -l r1.txt r2.txt', 'get r2.txt ' + path.join(dir, 'r2.out')]);
      assert.equal(legacy.code, 0, legacy.stderr);
      assert.match(legacy.stderr, /remote rename "\/r1\.txt" to "\/r2\.txt": Failure/);
      assert.equal(fs.readFileSync(path.join(dir, 'r2.out'), 'utf8'), 'B');
      // OpenSSH's plain `rename` uses posix-rename@openssh.com when the server offers it.
      const posix = await sftpBatch(keyLogin, ['rename r1.txt r2.txt', 'get r2.txt ' + path.join(dir, 'r2b.out'), 'ls']);
      assert.equal(posix.code, 0, posix.stderr);
      assert.equal(fs.readFileSync(path.join(dir, 'r2b.out'), 'utf8'), 'A');
      assert.equal(fs.existsSync(path.join(env.dataDir, 'files', 'alice', 'r1.txt')), false);
    });

    it('copies with scp (SFTP protocol) both ways', async () => {
      const source = path.join(dir, 'scp.bin');
      const hash = writeRandomFile(source, 300_000, 7);
      const up = await scp(keyLogin, source, `alice@127.0.0.1:scp.bin`);
      assert.equal(up.code, 0, up.stderr);
      const back = path.join(dir, 'scp.back');
      const down = await scp(keyLogin, `alice@127.0.0.1:scp.bin`, back);
      assert.equal(down.code, 0, down.stderr);
      assert.equal(sha256File(back), hash);
    });

    it('presents the same host key after a restart', async () => {
      const before = fs.readFileSync(path.join(env.dataDir, 'node-id'), 'utf8');
      const known = path.join(dir, 'known_hosts');
      const first = await sftpBatch(keyLogin, ['pwd'], ['-o', `UserKnownHostsFile=${known}`, '-o', 'StrictHostKeyChecking=accept-new']);
      assert.equal(first.code, 0, first.stderr);
      await node.stop();
      node = await startNode(env, { workers: 1, sftpPort: node.sftpPort });
      const second = await sftpBatch(keyLogin, ['pwd'], ['-o', `UserKnownHostsFile=${known}`, '-o', 'StrictHostKeyChecking=yes']);
      assert.equal(second.code, 0, second.stderr);
      assert.equal(fs.readFileSync(path.join(env.dataDir, 'node-id'), 'utf8'), before);
    });
  });
}
