import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { preparedDatabaseUrl, tempDir } from './harness/databases.js';
import { runFerry, startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';
import { writeRandomFile } from './harness/files.js';
import { sshExec, sshKeygen, type Login } from './harness/openssh.js';

function rclone(config: string, args: string[]): { code: number; out: string } {
  const r = spawnSync('rclone', ['--config', config, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

const hashOf = (algorithm: string, file: string) => crypto.createHash(algorithm).update(fs.readFileSync(file)).digest('hex');

describe('rclone sftp backend and SSH hash commands', () => {
  let dir: string;
  let env: FerryEnv;
  let node: RunningNode;
  let login: Login;
  let config: string;
  let local: string;

  before(async () => {
    execFileSync('rclone', ['version']);
    dir = tempDir();
    env = { dataDir: path.join(dir, 'data'), databaseUrl: await preparedDatabaseUrl('sqlite', dir) };
    const key = sshKeygen(dir);
    assert.equal((await runFerry(['account', 'add', 'alice', '--key', key + '.pub'], env)).code, 0);
    node = await startNode(env, { workers: 2 });
    login = { port: node.sftpPort, user: 'alice', keyFile: key, dir };
    config = path.join(dir, 'rclone.conf');
    fs.writeFileSync(config, `[ferry]\ntype = sftp\nhost = 127.0.0.1\nport = ${node.sftpPort}\nuser = alice\nkey_file = ${key}\n`);
    local = path.join(dir, 'local');
    fs.mkdirSync(path.join(local, 'sub', 'deeper'), { recursive: true });
    writeRandomFile(path.join(local, 'big.bin'), 3 * 1024 * 1024 + 17, 5);
    writeRandomFile(path.join(local, 'sub', 'small.bin'), 1000, 6);
    fs.writeFileSync(path.join(local, 'sub', 'deeper', 'name with spaces & $signs.txt'), 'tricky\n');
  });

  after(async () => {
    await node?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('copies, checks by hash and syncs a tree', async () => {
    const copy = rclone(config, ['copy', local, 'ferry:backup']);
    assert.equal(copy.code, 0, copy.out);
    const check = rclone(config, ['check', local, 'ferry:backup']);
    assert.equal(check.code, 0, check.out);
    assert.match(check.out, /0 differences found/);
    assert.match(check.out, /3 matching files/);
    assert.doesNotMatch(check.out, /hash unsupported|no hashes in common/);

    // A changed byte on the server side is found by hash, not by size.
    const remote = path.join(env.dataDir, 'files', 'alice', 'backup', 'sub', 'small.bin');
    const bytes = fs.readFileSync(remote);
    bytes[10] ^= 0xff;
    fs.writeFileSync(remote, bytes);
    // rclone trusts size + modification time within 1 s; make the change visible to sync too.
    const later = Date.now() / 1000 + 3600;
    fs.utimesSync(remote, later, later);
    const mismatch = rclone(config, ['check', local, 'ferry:backup']);
    assert.notEqual(mismatch.code, 0);
    assert.match(mismatch.out, /1 differences found/);

    fs.rmSync(path.join(local, 'big.bin'));
    const sync = rclone(config, ['sync', local, 'ferry:backup']);
    assert.equal(sync.code, 0, sync.out);
    assert.equal(fs.existsSync(path.join(env.dataDir, 'files', 'alice', 'backup', 'big.bin')), false);
    const after = rclone(config, ['check', local, 'ferry:backup']);
    assert.equal(after.code, 0, after.out);
  });

  it('answers sha256sum, sha1sum and md5sum for a file in the home, and nothing else', async () => {
    const file = path.join(env.dataDir, 'files', 'alice', 'backup', 'sub', 'deeper', 'name with spaces & $signs.txt');
    for (const [command, algorithm] of [
      ['sha256sum', 'sha256'],
      ['sha1sum', 'sha1'],
      ['md5sum', 'md5'],
    ] as const) {
      const r = await sshExec(login, `${command} '/backup/sub/deeper/name with spaces & $signs.txt'`);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${hashOf(algorithm, file)}  /backup/sub/deeper/name with spaces & $signs.txt\n`);
    }
    const missing = await sshExec(login, 'sha256sum /nope.txt');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No such file or directory/);
    const escape = await sshExec(login, 'sha256sum ../../../../etc/passwd');
    assert.equal(escape.code, 1);
    for (const forbidden of ['cat /etc/passwd', 'sha256sum /a; rm -rf /', 'sha256sum $(id)', 'sh -c id', 'md5sum a b']) {
      const r = await sshExec(login, forbidden);
      assert.equal(r.code, 127, forbidden);
      assert.match(r.stderr, /command not allowed/);
    }
  });
});
