import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freshDatabaseUrl, tempDir } from './harness/databases.js';
import { runFerry, startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';
import { sshKeygen } from './harness/openssh.js';
import { FX, OPEN_FLAGS, PKT, RawSftp, str, u32, u64 } from './harness/raw-sftp.js';

const SETSTAT = 9;
const FSETSTAT = 10;
const ATTR = { SIZE: 1, PERMISSIONS: 4 };

/** Every file under dir with its size and mode, to prove a refused request changed nothing. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const st = fs.lstatSync(p);
      out.push(`${path.relative(dir, p)}:${e.isDirectory() ? 'dir' : st.size}:${(st.mode & 0o7777).toString(8)}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

function handleOf(reply: { type: number; body: Buffer; code?: number; message?: string }): Buffer {
  assert.equal(reply.type, 102, `expected a handle, got status ${reply.code} ${reply.message}`);
  return reply.body.subarray(4, 4 + reply.body.readUInt32BE(0));
}

const modeOf = (file: string) => fs.statSync(file).mode & 0o7777;

// Protocol behaviour that does not depend on the database: one SQLite node.
describe('uploads hold: modes, names', () => {
  let dir: string;
  let env: FerryEnv;
  let node: RunningNode;
  let key: string;
  let home: string;
  let raw: RawSftp;

  before(async () => {
    dir = tempDir();
    // A umask other than the default proves the setting is read.
    env = { dataDir: path.join(dir, 'data'), databaseUrl: await freshDatabaseUrl('sqlite', dir), extra: { FERRY_STORAGE_UMASK: '0027' } };
    key = sshKeygen(dir);
    assert.equal((await runFerry(['account', 'add', 'alice', '--key', key + '.pub'], env)).code, 0);
    node = await startNode(env);
    home = path.join(env.dataDir, 'files', 'alice');
    raw = await RawSftp.connect(node.sftpPort, 'alice', key);
    await raw.version;
  });

  after(async () => {
    raw?.end();
    await node?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('never makes setuid, setgid or sticky files, and applies storage.umask to what users create', async () => {
    const created = handleOf(
      await raw.request(PKT.OPEN, str('suid.bin'), u32(OPEN_FLAGS.WRITE | OPEN_FLAGS.CREAT | OPEN_FLAGS.TRUNC), u32(ATTR.PERMISSIONS), u32(0o6777)),
    );
    assert.equal((await raw.request(PKT.WRITE, str(created), u64(0), str('#!/bin/sh\n'))).code, FX.OK);
    assert.equal((await raw.request(FSETSTAT, str(created), u32(ATTR.PERMISSIONS), u32(0o4755))).code, FX.OK);
    assert.equal((await raw.request(PKT.CLOSE, str(created))).code, FX.OK);
    assert.equal(modeOf(path.join(home, 'suid.bin')), 0o755, 'FSETSTAT 04755 sets 0755');

    const plain = handleOf(await raw.request(PKT.OPEN, str('plain.txt'), u32(OPEN_FLAGS.WRITE | OPEN_FLAGS.CREAT | OPEN_FLAGS.TRUNC), u32(ATTR.PERMISSIONS), u32(0o6777)));
    assert.equal((await raw.request(PKT.CLOSE, str(plain))).code, FX.OK);
    assert.equal(modeOf(path.join(home, 'plain.txt')), 0o750, 'OPEN with 06777 creates 0777 & ~umask 0027');

    const none = handleOf(await raw.request(PKT.OPEN, str('default.txt'), u32(OPEN_FLAGS.WRITE | OPEN_FLAGS.CREAT | OPEN_FLAGS.TRUNC), u32(0)));
    assert.equal((await raw.request(PKT.CLOSE, str(none))).code, FX.OK);
    assert.equal(modeOf(path.join(home, 'default.txt')), 0o640, 'OPEN without a mode creates 0666 & ~umask');

    assert.equal((await raw.request(SETSTAT, str('plain.txt'), u32(ATTR.PERMISSIONS), u32(0o6777))).code, FX.OK);
    assert.equal(modeOf(path.join(home, 'plain.txt')), 0o777, 'SETSTAT 06777 sets 0777');

    assert.equal((await raw.request(PKT.MKDIR, str('sticky'), u32(ATTR.PERMISSIONS), u32(0o1777))).code, FX.OK);
    assert.equal(modeOf(path.join(home, 'sticky')), 0o750);
    assert.equal((await raw.request(SETSTAT, str('sticky'), u32(ATTR.PERMISSIONS), u32(0o3777))).code, FX.OK);
    assert.equal(modeOf(path.join(home, 'sticky')), 0o777);
  });

  it('refuses file names that are not UTF-8 instead of merging them into one', async () => {
    const before = snapshot(dir);
    // Two names differing only in an invalid byte: decoded loosely, both would be 'x\uFFFD.txt'.
    for (const name of [Buffer.from([0x78, 0xff, 0x2e, 0x74, 0x78, 0x74]), Buffer.from([0x78, 0xfe, 0x2e, 0x74, 0x78, 0x74])]) {
      const open = await raw.request(PKT.OPEN, str(name), u32(OPEN_FLAGS.WRITE | OPEN_FLAGS.CREAT | OPEN_FLAGS.TRUNC), u32(0));
      assert.equal(open.type, 101);
      assert.equal(open.code, FX.FAILURE);
      assert.match(open.message!, /invalid file name encoding/);
      const mkdir = await raw.request(PKT.MKDIR, str(Buffer.concat([Buffer.from('d'), name])), u32(0));
      assert.equal(mkdir.code, FX.FAILURE);
      assert.match(mkdir.message!, /invalid file name encoding/);
      const rename = await raw.request(PKT.RENAME, str('default.txt'), str(name));
      assert.equal(rename.code, FX.FAILURE);
    }
    // Valid UTF-8 beyond ASCII is a name like any other.
    const accented = handleOf(await raw.request(PKT.OPEN, str('résumé ✓.txt'), u32(OPEN_FLAGS.WRITE | OPEN_FLAGS.CREAT | OPEN_FLAGS.TRUNC), u32(0)));
    assert.equal((await raw.request(PKT.CLOSE, str(accented))).code, FX.OK);
    assert.ok(fs.existsSync(path.join(home, 'résumé ✓.txt')));
    fs.unlinkSync(path.join(home, 'résumé ✓.txt'));
    assert.deepEqual(snapshot(dir).filter((f) => !/ferry\.db|node-output\.log/.test(f)), before.filter((f) => !/ferry\.db|node-output\.log/.test(f)));
  });
});
