import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { preparedDatabaseUrl, tempDir } from './harness/databases.js';
import { runFerry, startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';
import { writeRandomFile } from './harness/files.js';
import { sftpBatch, sshKeygen, type Login } from './harness/openssh.js';
import { FX, OPEN_FLAGS, PKT, RawSftp, str, u32, u64 } from './harness/raw-sftp.js';

/** Every file under dir with its size, to prove nothing outside a request changed. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(`${path.relative(dir, p)}:${fs.lstatSync(p).size}`);
    }
  };
  walk(dir);
  return out.sort();
}

// A protocol test: which database keeps the rows is not what it tests (the account store and the
// transfer log have tests of their own on both kinds), so it runs on one, sqlite.
for (const kind of ['sqlite'] as const) {
  describe(`bad input changes nothing (${kind})`, () => {
    let dir: string;
    let env: FerryEnv;
    let node: RunningNode;
    let key: string;
    let home: string;
    let login: Login;

    before(async () => {
      dir = tempDir();
      env = {
        dataDir: path.join(dir, 'data'),
        databaseUrl: await preparedDatabaseUrl(kind, dir),
        extra: { FERRY_ACCOUNTS_LOCKOUT_FAILURES: '3', FERRY_ACCOUNTS_LOCKOUT_WINDOW: '10m' },
      };
      key = sshKeygen(dir);
      assert.equal((await runFerry(['account', 'add', 'alice', '--key', key + '.pub'], env)).code, 0);
      assert.equal((await runFerry(['account', 'add', 'carol', '--password-stdin'], env, 'right-password\n')).code, 0);
      node = await startNode(env);
      home = path.join(env.dataDir, 'files', 'alice');
      login = { port: node.sftpPort, user: 'alice', keyFile: key, dir };
      // An outside file and a symlink inside the home that points at it.
      fs.writeFileSync(path.join(dir, 'outside.txt'), 'secret outside the home');
      const first = await sftpBatch(login, ['pwd']);
      assert.equal(first.code, 0, first.stderr);
      fs.symlinkSync(dir, path.join(home, 'escape'));
      fs.symlinkSync(path.join(dir, 'nowhere'), path.join(home, 'dangling'));
    });

    after(async () => {
      await node?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('keeps .. and absolute paths inside the home', async () => {
      const before = snapshot(dir);
      const file = path.join(dir, 'up.txt');
      fs.writeFileSync(file, 'inside');
      const result = await sftpBatch(login, [
        `put ${file} ../../../up.txt`,
        `-put ${file} /tmp/abs.txt`,
        'cd ../../..',
        'pwd',
        '-get /etc/passwd ' + path.join(dir, 'pw'),
      ]);
      assert.match(result.stdout, /Remote working directory: \/\n/);
      assert.equal(fs.readFileSync(path.join(home, 'up.txt'), 'utf8'), 'inside');
      assert.equal(fs.existsSync(path.join(dir, 'pw')), false);
      const after = snapshot(dir).filter((f) => !before.includes(f));
      // Only the new file in the home, the test's own file, logs and database files changed.
      for (const f of after) assert.match(f, /^(up\.txt|data\/files\/alice\/up\.txt|(data\/)?ferry\.db(-wal|-shm)?|data\/node-output\.log):/);
      assert.match(result.stderr, /\/tmp\/abs\.txt|No such file/);
    });

    it('refuses symlinks that lead outside the home, and refuses to create symlinks', async () => {
      const result = await sftpBatch(login, [
        '-ls escape/',
        `-get escape/outside.txt ${path.join(dir, 'stolen')}`,
        '-put ' + key + '.pub dangling',
        '-ln -s /etc newlink',
      ]);
      assert.equal(fs.existsSync(path.join(dir, 'stolen')), false);
      assert.equal(fs.existsSync(path.join(dir, 'nowhere')), false);
      assert.equal(fs.existsSync(path.join(home, 'newlink')), false);
      assert.match(result.stderr, /Permission denied/);
    });

    it('answers NUL bytes, overlong names and malformed requests with an error and keeps serving', async () => {
      const raw = await RawSftp.connect(node.sftpPort, 'alice', key);
      await raw.version;
      const nul = await raw.request(PKT.OPEN, str(Buffer.from('a\0b')), u32(OPEN_FLAGS.WRITE | OPEN_FLAGS.CREAT), u32(0));
      assert.equal(nul.code, FX.BAD_MESSAGE);
      assert.match(nul.message!, /NUL/);
      const long = await raw.request(PKT.MKDIR, str('x'.repeat(300)), u32(0));
      assert.equal(long.code, FX.FAILURE);
      assert.match(long.message!, /longer than 255 bytes/);
      // OPEN whose path length claims more bytes than the packet holds.
      const truncated = await raw.request(PKT.OPEN, u32(1000), Buffer.from('short'));
      assert.equal(truncated.code, FX.BAD_MESSAGE);
      const unknown = await raw.request(77, u32(1));
      assert.equal(unknown.code, FX.OP_UNSUPPORTED);
      const ext = await raw.request(PKT.EXTENDED, str('nonsense@example.com'));
      assert.equal(ext.code, FX.OP_UNSUPPORTED);
      const still = await raw.request(PKT.REALPATH, str('.'));
      assert.equal(still.type, 104);
      raw.end();
      assert.equal(
        fs.readdirSync(home).some((n) => n.startsWith('x') || n.includes('\0')),
        false,
      );
    });

    it('closes only the offending session on an oversized packet', async () => {
      const good = await RawSftp.connect(node.sftpPort, 'alice', key);
      await good.version;
      const bad = await RawSftp.connect(node.sftpPort, 'alice', key);
      await bad.version;
      bad.sendRaw(Buffer.concat([u32(64 * 1024 * 1024), Buffer.from([PKT.STAT]), u32(1)]));
      for (let i = 0; i < 50 && !bad.closed; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(bad.closed, true, 'session with oversized packet closed');
      const reply = await good.request(PKT.REALPATH, str('.'));
      assert.equal(reply.type, 104);
      good.end();
      bad.end();
      const log = node.logs.find((l) => l.msg?.includes('packet length out of range'));
      assert.ok(log, 'the refusal is logged');
    });

    it('refuses a handle after close and a write to a read handle', async () => {
      const raw = await RawSftp.connect(node.sftpPort, 'alice', key);
      await raw.version;
      const handle = await raw.open('h.txt', OPEN_FLAGS.WRITE | OPEN_FLAGS.CREAT | OPEN_FLAGS.TRUNC);
      assert.equal((await raw.request(PKT.WRITE, str(handle), u64(0), str('abc'))).code, FX.OK);
      assert.equal((await raw.request(PKT.CLOSE, str(handle))).code, FX.OK);
      const late = await raw.request(PKT.WRITE, str(handle), u64(3), str('def'));
      assert.equal(late.code, FX.FAILURE);
      assert.match(late.message!, /invalid handle/);
      assert.equal((await raw.request(PKT.CLOSE, str(handle))).code, FX.FAILURE);
      const readHandle = await raw.open('h.txt', OPEN_FLAGS.READ);
      const wrongWay = await raw.request(PKT.WRITE, str(readHandle), u64(0), str('zzz'));
      assert.equal(wrongWay.code, FX.FAILURE);
      raw.end();
      assert.equal(fs.readFileSync(path.join(home, 'h.txt'), 'utf8'), 'abc');
    });

    it('locks an account after repeated wrong passwords, visibly, until enabled', async () => {
      const carol: Login = { port: node.sftpPort, user: 'carol', password: 'wrong', dir };
      for (let i = 0; i < 3; i++) {
        const r = await sftpBatch(carol, ['pwd']);
        assert.notEqual(r.code, 0);
      }
      const locked = await sftpBatch({ ...carol, password: 'right-password' }, ['pwd']);
      assert.notEqual(locked.code, 0, 'the right password is refused while locked');
      const show = await runFerry(['account', 'show', 'carol', '--json'], env);
      const account = JSON.parse(show.stdout);
      assert.equal(account.state, 'locked');
      assert.equal(account.lockout.recentFailures, 3);
      assert.equal(account.lockout.lastFailureAddress, '127.0.0.1');
      assert.ok(account.lockout.lockedUntil);
      assert.ok(node.logs.some((l) => l.msg === 'login refused' && l.account === 'carol' && l.reason === 'locked'));
      assert.ok(node.logs.some((l) => l.msg === 'login refused' && l.locked === true));
      assert.equal((await runFerry(['account', 'enable', 'carol'], env)).code, 0);
      const ok = await sftpBatch({ ...carol, password: 'right-password' }, ['pwd']);
      assert.equal(ok.code, 0, ok.stderr);
    });

    it('refuses a disabled account at the next login, and a changed password at once', async () => {
      const carol: Login = { port: node.sftpPort, user: 'carol', password: 'right-password', dir };
      assert.equal((await runFerry(['account', 'disable', 'carol'], env)).code, 0);
      assert.notEqual((await sftpBatch(carol, ['pwd'])).code, 0);
      assert.equal((await runFerry(['account', 'enable', 'carol'], env)).code, 0);
      assert.equal((await runFerry(['account', 'passwd', 'carol', '--password-stdin'], env, 'new-password\n')).code, 0);
      assert.notEqual((await sftpBatch(carol, ['pwd'])).code, 0);
      assert.equal((await sftpBatch({ ...carol, password: 'new-password' }, ['pwd'])).code, 0);
    });

    it('records a client that vanishes mid-upload as aborted and keeps serving', async () => {
      const raw = await RawSftp.connect(node.sftpPort, 'alice', key);
      await raw.version;
      const handle = await raw.open('vanish.bin', OPEN_FLAGS.WRITE | OPEN_FLAGS.CREAT | OPEN_FLAGS.TRUNC);
      assert.equal((await raw.request(PKT.WRITE, str(handle), u64(0), str(Buffer.alloc(100_000, 7)))).code, FX.OK);
      raw.conn.end();
      let row: any;
      for (let i = 0; i < 50; i++) {
        const list = await runFerry(['transfers', 'list', '--account', 'alice', '--json'], env);
        row = (JSON.parse(list.stdout) as any[]).find((r) => r.path === '/vanish.bin');
        if (row?.status !== 'in-progress') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(row.status, 'aborted');
      assert.equal(row.bytes, 100_000);
      assert.match(row.error, /connection closed/);
      assert.equal(fs.existsSync(path.join(home, 'vanish.bin')), false, 'no half file under the final name');
      assert.equal((await sftpBatch(login, ['pwd'])).code, 0);
    });
  });
}

describe('a full disk', () => {
  let dir: string;
  let storage: string;
  let node: RunningNode;
  let env: FerryEnv;

  before(async () => {
    dir = tempDir();
    storage = path.join(dir, 'storage');
    fs.mkdirSync(storage);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', storage]);
    env = { dataDir: path.join(dir, 'data'), databaseUrl: await preparedDatabaseUrl('sqlite', dir), storageDir: storage };
    const key = sshKeygen(dir);
    assert.equal((await runFerry(['account', 'add', 'alice', '--key', key + '.pub'], env)).code, 0);
    node = await startNode(env);
  });

  after(async () => {
    await node?.stop();
    try {
      execFileSync('umount', [storage]);
    } catch {}
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('fails the upload cleanly, publishes nothing, logs it failed and keeps serving', async () => {
    const login: Login = { port: node.sftpPort, user: 'alice', keyFile: path.join(dir, 'id_ed25519'), dir };
    const small = path.join(dir, 'small.txt');
    fs.writeFileSync(small, 'fits');
    assert.equal((await sftpBatch(login, [`put ${small} keep.txt`])).code, 0);
    const big = path.join(dir, 'big.bin');
    writeRandomFile(big, 5 * 1024 * 1024);
    const result = await sftpBatch(login, [`put ${big} big.bin`]);
    assert.notEqual(result.code, 0);
    assert.equal(fs.existsSync(path.join(storage, 'alice', 'big.bin')), false);
    assert.equal(fs.readFileSync(path.join(storage, 'alice', 'keep.txt'), 'utf8'), 'fits');
    const list = JSON.parse((await runFerry(['transfers', 'list', '--json'], env)).stdout) as any[];
    const row = list.find((r) => r.path === '/big.bin');
    assert.equal(row.status, 'failed');
    assert.match(row.error, /no space left on device/i);
    const after = await sftpBatch(login, ['ls']);
    assert.equal(after.code, 0);
    assert.match(after.stdout, /keep\.txt/);
  });
});
