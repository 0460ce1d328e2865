import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { preparedDatabaseUrl, tempDir } from './harness/databases.js';
import { runFerry, startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';
import { sshKeygen } from './harness/openssh.js';
import { FX, OPEN_FLAGS, PKT, RawSftp, str, u32, u64, type Reply } from './harness/raw-sftp.js';

const { READ, WRITE, APPEND, CREAT, TRUNC, EXCL } = OPEN_FLAGS;

function names(reply: Reply): string[] {
  assert.equal(reply.type, 104, `expected NAME, got ${reply.type} ${reply.message ?? ''}`);
  const count = reply.body.readUInt32BE(0);
  const out: string[] = [];
  let pos = 4;
  for (let i = 0; i < count; i++) {
    const len = reply.body.readUInt32BE(pos);
    out.push(reply.body.subarray(pos + 4, pos + 4 + len).toString());
    pos += 4 + len;
    pos += 4 + reply.body.readUInt32BE(pos); // longname
    const flags = reply.body.readUInt32BE(pos);
    pos += 4 + (flags & 1 ? 8 : 0) + (flags & 2 ? 8 : 0) + (flags & 4 ? 4 : 0) + (flags & 8 ? 8 : 0);
  }
  return out;
}

/** ATTRS reply → size and mtime. */
function attrs(reply: Reply): { size: number; mtime: number; mode: number } {
  assert.equal(reply.type, 105, `expected ATTRS, got ${reply.type} ${reply.message ?? ''}`);
  return { size: Number(reply.body.readBigUInt64BE(4)), mode: reply.body.readUInt32BE(20), mtime: reply.body.readUInt32BE(28) };
}

const ATTR_TIMES = (atime: number, mtime: number) => Buffer.concat([u32(8), u32(atime), u32(mtime)]);

describe('SFTP requests as WinSCP, FileZilla and other clients send them', () => {
  let dir: string;
  let env: FerryEnv;
  let node: RunningNode;
  let raw: RawSftp;
  let home: string;

  before(async () => {
    dir = tempDir();
    env = { dataDir: path.join(dir, 'data'), databaseUrl: await preparedDatabaseUrl('sqlite', dir) };
    const key = sshKeygen(dir);
    assert.equal((await runFerry(['account', 'add', 'alice', '--key', key + '.pub'], env)).code, 0);
    node = await startNode(env);
    raw = await RawSftp.connect(node.sftpPort, 'alice', key);
    home = path.join(env.dataDir, 'files', 'alice');
  });

  after(async () => {
    raw?.end();
    await node?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function put(name: string, flags: number, writes: Array<[number, string]>): Promise<void> {
    const h = await raw.open(name, flags);
    for (const [offset, data] of writes) assert.equal((await raw.request(PKT.WRITE, str(h), u64(offset), str(data))).code, FX.OK);
    const closed = await raw.request(PKT.CLOSE, str(h));
    assert.equal(closed.code, FX.OK, closed.message);
  }

  it('advertises the OpenSSH extensions, with limits for large reads and writes', async () => {
    const version = await raw.version;
    assert.equal(version.body.readUInt32BE(0), 3);
    const text = version.body.toString('latin1');
    for (const ext of [
      'posix-rename@openssh.com',
      'statvfs@openssh.com',
      'fstatvfs@openssh.com',
      'hardlink@openssh.com',
      'fsync@openssh.com',
      'limits@openssh.com',
    ]) {
      assert.ok(text.includes(ext), ext);
    }
    const limits = await raw.request(PKT.EXTENDED, str('limits@openssh.com'));
    assert.equal(limits.type, 201);
    assert.ok(Number(limits.body.readBigUInt64BE(8)) >= 255 * 1024, 'max read length');
    assert.ok(Number(limits.body.readBigUInt64BE(16)) >= 255 * 1024, 'max write length');
  });

  it('modifies a file in place, appends, and refuses an exclusive create of an existing file', async () => {
    await put('f.txt', WRITE | CREAT | TRUNC, [[0, 'hello world']]);
    await put('f.txt', WRITE, [[6, 'WORLD']]);
    assert.equal(fs.readFileSync(path.join(home, 'f.txt'), 'utf8'), 'hello WORLD');
    await put('f.txt', WRITE | APPEND, [[0, '!']]);
    assert.equal(fs.readFileSync(path.join(home, 'f.txt'), 'utf8'), 'hello WORLD!');
    const exclusive = await raw.request(PKT.OPEN, str('f.txt'), u32(WRITE | CREAT | EXCL), u32(0));
    assert.equal(exclusive.code, FX.FAILURE);
    assert.match(exclusive.message!, /File exists/);
    const noCreate = await raw.request(PKT.OPEN, str('missing.txt'), u32(WRITE), u32(0));
    assert.equal(noCreate.code, FX.NO_SUCH_FILE);
    const noFile = await raw.request(PKT.OPEN, str('missing.txt'), u32(READ), u32(0));
    assert.equal(noFile.code, FX.NO_SUCH_FILE);
    const noDir = await raw.request(PKT.OPEN, str('nodir/x.txt'), u32(WRITE | CREAT), u32(0));
    assert.equal(noDir.code, FX.NO_SUCH_FILE);
  });

  it('logs the true SHA-256 of a file written out of order', async () => {
    await put('ooo.bin', WRITE | CREAT | TRUNC, [
      [5, 'world'],
      [0, 'hello'],
    ]);
    const expected = crypto.createHash('sha256').update('helloworld').digest('hex');
    const rows = JSON.parse((await runFerry(['transfers', 'list', '--json'], env)).stdout) as any[];
    assert.equal(rows.find((r) => r.path === '/ooo.bin').sha256, expected);
  });

  it('writes a large WRITE as its data arrives, and replies once all of it is written', async () => {
    const data = crypto.randomBytes(600 * 1024);
    const h = await raw.open('pieces.bin', WRITE | CREAT | TRUNC);
    const partialSizes: number[] = [];
    const partialSize = () => {
      const root = path.join(env.dataDir, 'files', '.partial');
      const files = fs.readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
      return files.reduce((sum, e) => sum + fs.statSync(path.join(e.parentPath ?? e.path, e.name)).size, 0);
    };
    const written = await raw.requestInPieces(PKT.WRITE, [str(h), u64(0), str(data)], 4, 150, () => void partialSizes.push(partialSize()));
    assert.equal(written.code, FX.OK, written.message);
    assert.equal(written.early, false, 'no reply before the last byte arrived');
    // Data already on disk while the rest of the request was still on its way.
    assert.ok(partialSizes[0]! > 0 && partialSizes[2]! > partialSizes[0]!, `partial file grew as pieces arrived: ${partialSizes}`);
    // A WRITE to a closed handle fails once its data has been read, and the session stays in step.
    const stale = await raw.requestInPieces(PKT.WRITE, [str('no-such-handle'), u64(0), str(data)], 3, 50);
    assert.equal(stale.code, FX.FAILURE);
    assert.equal(stale.early, false);
    assert.match(stale.message!, /invalid handle/);
    const tooFar = await raw.requestInPieces(PKT.WRITE, [str(h), u32(0xffffffff), u32(0), str(data)], 3, 50);
    assert.equal(tooFar.code, FX.BAD_MESSAGE);
    assert.equal((await raw.request(PKT.WRITE, str(h), u64(data.length), str('tail'))).code, FX.OK);
    assert.equal((await raw.request(PKT.CLOSE, str(h))).code, FX.OK);
    const expected = Buffer.concat([data, Buffer.from('tail')]);
    assert.ok(fs.readFileSync(path.join(home, 'pieces.bin')).equals(expected));
    const sha256 = crypto.createHash('sha256').update(expected).digest('hex');
    const rows = JSON.parse((await runFerry(['transfers', 'list', '--json'], env)).stdout) as any[];
    assert.equal(rows.find((r) => r.path === '/pieces.bin').sha256, sha256);
  });

  it('keeps times set on the open handle (as WinSCP and put -p do) after the close', async () => {
    const h = await raw.open('timed.txt', WRITE | CREAT | TRUNC);
    await raw.request(PKT.WRITE, str(h), u64(0), str('abc'));
    const fstat = attrs(await raw.request(8, str(h)));
    assert.equal(fstat.size, 3);
    assert.equal((await raw.request(10, str(h), ATTR_TIMES(1_000_000_000, 1_000_000_000))).code, FX.OK);
    assert.equal((await raw.request(PKT.CLOSE, str(h))).code, FX.OK);
    assert.equal(Math.floor(fs.statSync(path.join(home, 'timed.txt')).mtimeMs / 1000), 1_000_000_000);
    assert.equal((await raw.request(9, str('timed.txt'), ATTR_TIMES(1_100_000_000, 1_100_000_000))).code, FX.OK);
    assert.equal(attrs(await raw.request(PKT.STAT, str('timed.txt'))).mtime, 1_100_000_000);
    const chown = await raw.request(9, str('timed.txt'), Buffer.concat([u32(2), u32(12345), u32(12345)]));
    assert.equal(chown.code, FX.PERMISSION_DENIED);
  });

  it('lists a directory of 300 entries across several READDIR replies', async () => {
    fs.mkdirSync(path.join(home, 'many'));
    for (let i = 0; i < 300; i++) fs.writeFileSync(path.join(home, 'many', `f${i}`), '');
    const handleReply = await raw.request(PKT.OPENDIR, str('many'));
    const handle = handleReply.body.subarray(4, 4 + handleReply.body.readUInt32BE(0));
    const seen: string[] = [];
    for (let i = 0; i < 20; i++) {
      const reply = await raw.request(PKT.READDIR, str(handle));
      if (reply.type === 101) {
        assert.equal(reply.code, FX.EOF);
        break;
      }
      seen.push(...names(reply));
    }
    assert.equal(seen.length, 302);
    assert.ok(seen.includes('.') && seen.includes('..') && seen.includes('f299'));
  });

  it('answers hardlink, statvfs, fsync, realpath and expand-path', async () => {
    await put('orig.txt', WRITE | CREAT | TRUNC, [[0, 'linked']]);
    assert.equal((await raw.request(PKT.EXTENDED, str('hardlink@openssh.com'), str('orig.txt'), str('link.txt'))).code, FX.OK);
    assert.equal(fs.statSync(path.join(home, 'link.txt')).ino, fs.statSync(path.join(home, 'orig.txt')).ino);
    const statvfs = await raw.request(PKT.EXTENDED, str('statvfs@openssh.com'), str('/'));
    assert.equal(statvfs.type, 201);
    assert.ok(Number(statvfs.body.readBigUInt64BE(16)) > 0, 'f_blocks');
    const h = await raw.open('sync.txt', WRITE | CREAT | TRUNC);
    assert.equal((await raw.request(PKT.EXTENDED, str('fsync@openssh.com'), str(h))).code, FX.OK);
    await raw.request(PKT.CLOSE, str(h));
    assert.deepEqual(names(await raw.request(PKT.REALPATH, str('a/../b/./c'))), ['/b/c']);
    assert.deepEqual(names(await raw.request(PKT.EXTENDED, str('expand-path@openssh.com'), str('~/x'))), ['/x']);
  });

  it('caps a read at the advertised maximum', async () => {
    fs.writeFileSync(path.join(home, 'huge.bin'), Buffer.alloc(3 * 1024 * 1024, 1));
    const h = await raw.open('huge.bin', READ);
    const reply = await raw.request(PKT.READ, str(h), u64(0), u32(3 * 1024 * 1024));
    assert.equal(reply.type, 103);
    assert.equal(reply.body.readUInt32BE(0), 1024 * 1024);
    await raw.request(PKT.CLOSE, str(h));
  });
});
