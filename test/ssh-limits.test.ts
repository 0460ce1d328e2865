import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ClientChannel, ConnectConfig } from 'ssh2';
import { ConfigError, loadConfig } from '../src/config/load.js';
import { resolveSshAlgorithms } from '../src/protocols/ssh/algorithms.js';
import ssh2 from '../src/ssh2/library.js';
import { DATABASE_KINDS, preparedDatabaseUrl, tempDir } from './harness/databases.js';
import { edgeSetup, makeTunnelPki, readyNodesAt } from './harness/edges.js';
import { runFerry, startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';
import { sftpBatch, sshExec, sshKeygen, type Login } from './harness/openssh.js';
import { OPEN_FLAGS, RawSftp } from './harness/raw-sftp.js';
import { waitFor } from './harness/wait.js';

const { Client } = ssh2;
type Ssh2Client = InstanceType<typeof Client>;

/** An ssh2 client connection; rejects on an error before it is ready. */
function connect(config: ConnectConfig): Promise<Ssh2Client> {
  return new Promise((resolve, reject) => {
    const conn = new Client();
    conn.on('error', reject);
    conn.on('ready', () => resolve(conn));
    conn.connect({ host: '127.0.0.1', readyTimeout: 10_000, ...config });
  });
}

function closed(conn: Ssh2Client): Promise<void> {
  return new Promise((resolve) => conn.once('close', () => resolve()));
}

function execChannel(conn: Ssh2Client, command: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) => conn.exec(command, (err, channel) => (err ? reject(err) : resolve(channel))));
}

/** Runs a command on its own channel; resolves with its output and exit code. */
async function exec(conn: Ssh2Client, command: string, stdin?: Buffer): Promise<{ stdout: string; stderr: string; code: number | undefined }> {
  const channel = await execChannel(conn, command);
  let stdout = '';
  let stderr = '';
  let code: number | undefined;
  channel.on('data', (d: Buffer) => (stdout += d));
  channel.stderr.on('data', (d: Buffer) => (stderr += d));
  channel.on('exit', (c: number) => (code = c));
  channel.end(stdin);
  await new Promise((resolve) => channel.on('close', resolve));
  return { stdout, stderr, code };
}

/** Log lines of one client connection (its SSH session id). */
function linesOf(node: RunningNode, session: string): Array<Record<string, any>> {
  return node.logs.filter((l) => l.session === session);
}

interface Setup {
  dir: string;
  env: FerryEnv;
  node: RunningNode;
  key: string;
}

/** A node with the given settings and key-login accounts (one key for all). */
async function nodeWithAccounts(kind: 'sqlite' | 'postgres', extra: Record<string, string>, names = ['alice']): Promise<Setup> {
  const dir = tempDir();
  const env = { dataDir: path.join(dir, 'data'), databaseUrl: await preparedDatabaseUrl(kind, dir), extra };
  const key = sshKeygen(dir);
  for (const name of names) assert.equal((await runFerry(['account', 'add', name, '--key', key + '.pub'], env)).code, 0);
  return { dir, env, key, node: await startNode(env) };
}

describe('SSH limits before and after login (sqlite)', () => {
  let dir: string;
  let env: FerryEnv;
  let node: RunningNode;
  let key: string;
  let login: Login;
  let home: string;

  before(async () => {
    ({ dir, env, node, key } = await nodeWithAccounts('sqlite', {
      FERRY_SFTP_MAX_AUTH_TRIES: '10',
      FERRY_SFTP_LOGIN_TIMEOUT: '3s',
      FERRY_SFTP_MAX_HANDLES: '50',
      FERRY_SFTP_MAX_ACCOUNT_HANDLES: '80',
      // Lockout would end the password attempts early; this test is about the connection's limits.
      FERRY_ACCOUNTS_LOCKOUT_FAILURES: '1000',
    }));
    home = path.join(env.dataDir, 'files', 'alice');
    login = { port: node.sftpPort, user: 'alice', keyFile: key, dir };
    const first = await sftpBatch(login, ['pwd']);
    assert.equal(first.code, 0, first.stderr);
    for (let i = 0; i < 100; i++) fs.writeFileSync(path.join(home, `f${i}`), 'x');
  });

  after(async () => {
    await node?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('disconnects after sftp.max_auth_tries refusals, refuses long names unread, and logs a bounded amount', async () => {
    const name = 'n'.repeat(30_000);
    let tries = 0;
    let bytesSent = 0;
    const conn = new Client();
    const done = new Promise<void>((resolve) => {
      conn.on('close', () => resolve());
      conn.on('error', () => {});
    });
    conn.on('ready', () => conn.end());
    conn.connect({
      host: '127.0.0.1',
      port: node.sftpPort,
      username: name,
      // Tries for ever unless the server ends the connection (bounded here at 40).
      authHandler: (_methods, _partial, next) => {
        if (++tries > 40) return next(false as any);
        bytesSent += name.length + 20;
        next({ type: 'password', username: name, password: 'wrong' } as any);
      },
    });
    await done;
    // The client may have started one more try before the disconnect reached it.
    assert.ok(tries <= 11, `${tries} tries before the server disconnected`);
    const mine = await waitFor('the disconnect log line', () => node.logs.find((l) => /too many authentication failures/.test(l.msg ?? '')));
    assert.equal(mine.tries, 10);
    const lines = linesOf(node, mine.session);
    const refused = lines.filter((l) => l.msg === 'login refused');
    assert.equal(refused.length, 6, 'at most six refusals are logged per connection');
    for (const l of refused) {
      assert.equal(l.reason, 'name-too-long');
      assert.ok(l.account.length < 100, 'names are logged truncated');
    }
    assert.equal(lines.filter((l) => /further login refusals/.test(l.msg)).length, 1);
    const logBytes = lines.reduce((n, l) => n + JSON.stringify(l).length, 0);
    assert.ok(logBytes < 4096, `${logBytes} bytes of log for ${bytesSent} bytes sent`);
  });

  it('offers zlib@openssh.com (after login) but never zlib, and caps inflated packets', async () => {
    await assert.rejects(
      connect({ port: node.sftpPort, username: 'alice', privateKey: fs.readFileSync(key), algorithms: { compress: ['zlib'] } }),
      /compression/i,
    );
    const conn = await connect({ port: node.sftpPort, username: 'alice', privateKey: fs.readFileSync(key), algorithms: { compress: ['zlib@openssh.com'] } });
    const ok = await exec(conn, 'sha256sum', Buffer.from('abc'));
    assert.equal(ok.stdout, `${crypto.createHash('sha256').update('abc').digest('hex')}  -\n`);
    // 400 KB of command line compresses to a few hundred bytes; inflated it is past the 256 KiB cap.
    const gone = closed(conn);
    conn.on('error', () => {});
    let answered = false;
    conn.exec('x'.repeat(400_000), (err, channel) => {
      if (!err) channel.on('exit', () => (answered = true)).resume();
    });
    await Promise.race([gone, new Promise((_, reject) => setTimeout(() => reject(new Error('the connection survived a 400 KB inflated packet')), 10_000))]);
    assert.equal(answered, false);
  });

  it('drops silent connections at the login timeout, counted from TCP accept, and refuses beyond sftp.max_startups', async () => {
    const closedAt = await silentConnections(node.sftpPort, 300, 15_000);
    // Beyond 100 pending (and some from 10 on) are refused at once.
    assert.ok(closedAt.filter((ms) => ms < 2500).length >= 200, 'refused at once beyond max_startups');
    // The rest never sent a byte: they are dropped by the 3 s login timer, not held.
    assert.ok(Math.max(...closedAt) < 10_000);
    const real = await sftpBatch(login, ['pwd']);
    assert.equal(real.code, 0, real.stderr);
  });

  it('refuses an eleventh channel on one connection (sftp.max_sessions)', async () => {
    const conn = await connect({ port: node.sftpPort, username: 'alice', privateKey: fs.readFileSync(key) });
    try {
      const channels: ClientChannel[] = [];
      for (let i = 0; i < 10; i++) channels.push(await execChannel(conn, 'sha256sum'));
      await assert.rejects(execChannel(conn, 'sha256sum'), /open failure|administratively/i);
      channels[0]!.resume().end();
      await new Promise((resolve) => channels[0]!.on('close', resolve));
      // A closed channel frees its place.
      channels[0] = await execChannel(conn, 'sha256sum');
      for (const c of channels) c.end();
    } finally {
      conn.end();
    }
  });

  it('hashes standard input of any length without holding it', async () => {
    const conn = await connect({ port: node.sftpPort, username: 'alice', privateKey: fs.readFileSync(key) });
    try {
      const input = crypto.randomBytes(3 * 1024 * 1024);
      const result = await exec(conn, 'sha256sum', input);
      assert.equal(result.stdout, `${crypto.createHash('sha256').update(input).digest('hex')}  -\n`);
    } finally {
      conn.end();
    }
  });

  it('limits open handles per connection across channels, and per account', async () => {
    const a1 = await RawSftp.connect(node.sftpPort, 'alice', key);
    const b = await RawSftp.connect(node.sftpPort, 'alice', key);
    try {
      await a1.version;
      const a2 = await a1.openChannel();
      await a2.version;
      await b.version;
      for (let i = 0; i < 30; i++) await a1.open(`f${i}`, OPEN_FLAGS.READ);
      for (let i = 30; i < 50; i++) await a2.open(`f${i}`, OPEN_FLAGS.READ);
      await assert.rejects(a2.open('f50', OPEN_FLAGS.READ), /Too many open files/);
      await assert.rejects(a1.open('f50', OPEN_FLAGS.READ), /Too many open files/);
      // The account holds 50 on this worker: 30 more are allowed on another connection, not 31.
      for (let i = 50; i < 80; i++) await b.open(`f${i}`, OPEN_FLAGS.READ);
      await assert.rejects(b.open('f80', OPEN_FLAGS.READ), /Too many open files/);
      a1.end();
      await waitFor('the first connection’s handles released', async () => {
        try {
          await b.open('f81', OPEN_FLAGS.READ);
          return true;
        } catch {
          return false;
        }
      });
    } finally {
      a1.end();
      b.end();
    }
  });

  it('shows only the account-relative path in an exec error', async () => {
    fs.symlinkSync('loop-b', path.join(home, 'loop-a'));
    fs.symlinkSync('loop-a', path.join(home, 'loop-b'));
    const result = await sshExec(login, 'sha256sum loop-a');
    assert.equal(result.code, 1);
    assert.match(result.stderr, /sha256sum: loop-a: /);
    assert.ok(!result.stderr.includes(dir), result.stderr);
  });

  it('does not sign with ssh-rsa (SHA-1) unless configured', async () => {
    await assert.rejects(
      connect({ port: node.sftpPort, username: 'alice', privateKey: fs.readFileSync(key), algorithms: { serverHostKey: ['ssh-rsa'] } }),
      /no matching host key/,
    );
    const sha2 = await sftpBatch(login, ['pwd'], ['-o', 'HostKeyAlgorithms=rsa-sha2-512']);
    assert.equal(sha2.code, 0, sha2.stderr);
  });
});

/** Opens `count` TCP connections that never send a byte; resolves with the close times (ms after opening) once all are closed. */
async function silentConnections(port: number, count: number, timeoutMs: number): Promise<number[]> {
  const sockets: net.Socket[] = [];
  const closedAt: number[] = [];
  const start = Date.now();
  for (let i = 0; i < count; i++) {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    // Reads (and drops) the server's identification line, so the end of the connection is seen.
    s.resume();
    s.on('close', () => closedAt.push(Date.now() - start));
    sockets.push(s);
  }
  try {
    await waitFor('every silent connection closed', () => closedAt.length === count, timeoutMs);
    return closedAt;
  } finally {
    for (const s of sockets) s.destroy();
  }
}

describe('a silent client through an edge (sqlite)', () => {
  let dir: string;
  let node: RunningNode | undefined;
  let edge: RunningNode | undefined;

  after(async () => {
    await edge?.stop();
    await node?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is dropped by the node at the login timeout, counted from the hand-over', async () => {
    dir = tempDir();
    const pki = await makeTunnelPki(dir, ['edge1'], ['n1']);
    const e = await edgeSetup(dir, 'edge1', pki);
    edge = await startNode(e.env, { command: 'edge', cwd: e.cwd });
    const env = {
      dataDir: path.join(dir, 'n1'),
      databaseUrl: await preparedDatabaseUrl('sqlite', dir),
      extra: { ...pki.tlsEnv('n1'), FERRY_NODE_NAME: 'n1', FERRY_EDGES: e.tunnel, FERRY_SFTP_LOGIN_TIMEOUT: '2s' },
    };
    node = await startNode(env);
    await waitFor('the node ready at the edge', async () => (await readyNodesAt(e.ports.health)).includes('n1'));
    const closedAt = await silentConnections(e.ports.sftp, 20, 15_000);
    assert.ok(Math.max(...closedAt) < 10_000, `closed after ${Math.max(...closedAt)} ms`);
  });
});

describe('SSH limit and algorithm settings as in sshd_config', () => {
  it('reads sftp.max_startups as start:rate:full or one number, and refuses anything else naming the setting', () => {
    assert.deepEqual(loadConfig({ env: {} }).sftp.max_startups, { start: 10, rate: 30, full: 100 });
    assert.deepEqual(loadConfig({ env: { FERRY_SFTP_MAX_STARTUPS: '50' } }).sftp.max_startups, { start: 50, rate: 100, full: 50 });
    for (const bad of ['10:30', '10:0:100', '20:30:10', 'many']) {
      assert.throws(
        () => loadConfig({ env: { FERRY_SFTP_MAX_STARTUPS: bad } }),
        (err: Error) => err instanceof ConfigError && /FERRY_SFTP_MAX_STARTUPS/.test(err.message),
      );
    }
  });

  it('replaces, appends to, removes from and prepends to the default lists', () => {
    const defaults = resolveSshAlgorithms({});
    assert.ok(!defaults.serverHostKey.includes('ssh-rsa'));
    assert.deepEqual(defaults.compress, ['none', 'zlib@openssh.com']);
    assert.deepEqual(resolveSshAlgorithms({ ciphers: 'aes256-ctr, aes128-ctr' }).cipher, ['aes256-ctr', 'aes128-ctr']);
    assert.deepEqual(resolveSshAlgorithms({ host_key_algorithms: '+ssh-rsa' }).serverHostKey, [...defaults.serverHostKey, 'ssh-rsa']);
    assert.deepEqual(
      resolveSshAlgorithms({ macs: '-hmac-sha2-256,hmac-sha2-512' }).hmac,
      defaults.hmac.filter((m) => m !== 'hmac-sha2-256' && m !== 'hmac-sha2-512'),
    );
    assert.equal(resolveSshAlgorithms({ kex_algorithms: '^diffie-hellman-group14-sha256' }).kex[0], 'diffie-hellman-group14-sha256');
    assert.throws(() => resolveSshAlgorithms({ kex_algorithms: '-' + defaults.kex.join(',') }), /sftp\.kex_algorithms: .* leaves no algorithm/);
  });
});

describe('SSH algorithm settings (sqlite)', () => {
  let dir: string;
  let env: FerryEnv;

  before(async () => {
    dir = tempDir();
    env = { dataDir: path.join(dir, 'data'), databaseUrl: await preparedDatabaseUrl('sqlite', dir) };
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('stops the node with a message naming the setting for an unknown algorithm', async () => {
    await assert.rejects(
      startNode({ ...env, extra: { FERRY_SFTP_CIPHERS: 'aes128-ctr,rot13' } }),
      /exited with 1: ferry: sftp\.ciphers: unsupported algorithm "rot13"/,
    );
  });

  it('offers ssh-rsa when sftp.host_key_algorithms adds it, and only the ciphers configured', async () => {
    const key = sshKeygen(dir);
    assert.equal((await runFerry(['account', 'add', 'alice', '--key', key + '.pub'], env)).code, 0);
    const node = await startNode({ ...env, extra: { FERRY_SFTP_HOST_KEY_ALGORITHMS: '+ssh-rsa', FERRY_SFTP_CIPHERS: 'aes256-ctr' } });
    try {
      const login = { port: node.sftpPort, user: 'alice', keyFile: key, dir };
      const sha1 = await sftpBatch(login, ['pwd'], ['-o', 'HostKeyAlgorithms=ssh-rsa']);
      assert.equal(sha1.code, 0, sha1.stderr);
      await assert.rejects(
        connect({ port: node.sftpPort, username: 'alice', privateKey: fs.readFileSync(key), algorithms: { cipher: ['aes128-ctr'] } }),
        /no matching .*cipher/,
      );
      assert.equal((await sftpBatch(login, ['pwd'], ['-o', 'Ciphers=aes256-ctr'])).code, 0);
    } finally {
      await node.stop();
    }
  });
});

describe('a worker at its descriptor limit (sqlite)', () => {
  let dir: string;
  let env: FerryEnv;
  let node: RunningNode;
  let key: string;

  before(async () => {
    ({ dir, env, node, key } = await nodeWithAccounts('sqlite', { FERRY_SFTP_MAX_HANDLES: '100000', FERRY_SFTP_MAX_ACCOUNT_HANDLES: '100000' }));
  });

  after(async () => {
    await node?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses handles before the limit and serves new connections during and after', async () => {
    const login = { port: node.sftpPort, user: 'alice', keyFile: key, dir };
    assert.equal((await sftpBatch(login, ['pwd'])).code, 0);
    fs.writeFileSync(path.join(env.dataDir, 'files', 'alice', 'f'), 'x');
    // As if the node were started with `ulimit -n 400`: the supervisor gets the limit, and the
    // worker that replaces a killed one inherits it.
    const first = (await node.waitForLog((l) => l.msg === 'worker up')).worker as number;
    execFileSync('prlimit', ['--pid', String(node.process.pid), '--nofile=400:400']);
    process.kill(first, 'SIGKILL');
    const worker = (await node.waitForLog((l) => l.msg === 'worker up' && l.worker !== first)).worker as number;
    assert.match(fs.readFileSync(`/proc/${worker}/limits`, 'utf8'), /Max open files\s+400\s/);
    await waitFor('the new worker serving', async () => (await sftpBatch(login, ['pwd'], [], 10_000)).code === 0);
    const raw = await RawSftp.connect(node.sftpPort, 'alice', key);
    await raw.version;
    const channels = [raw, await raw.openChannel(), await raw.openChannel()];
    let held = 0;
    let refusal = '';
    for (let i = 0; i < 1000 && !refusal; i++) {
      try {
        await channels[i % 3]!.open('f', OPEN_FLAGS.READ);
        held++;
      } catch (err) {
        refusal = (err as Error).message;
      }
    }
    assert.match(refusal, /Too many open files/);
    assert.ok(held > 100, `${held} handles held`);
    // While the attacker holds them, a new client is served (or refused cleanly), never left hanging.
    const during = await sftpBatch(login, ['pwd'], [], 20_000);
    assert.equal(during.code, 0, during.stderr);
    raw.end();
    const afterwards = await sftpBatch(login, ['pwd'], [], 20_000);
    assert.equal(afterwards.code, 0, afterwards.stderr);
  });
});

for (const kind of DATABASE_KINDS) {
  describe(`a disabled or removed account loses its open sessions (${kind})`, () => {
    let dir: string;
    let env: FerryEnv;
    let node: RunningNode;
    let key: string;

    before(async () => {
      ({ dir, env, node, key } = await nodeWithAccounts(kind, {}, ['alice', 'bob', 'carol']));
    });

    after(async () => {
      await node?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('ends the sessions of a disabled and of a removed account within seconds, not the others', async () => {
      const [alice, bob, carol] = await Promise.all(['alice', 'bob', 'carol'].map((n) => RawSftp.connect(node.sftpPort, n, key)));
      await Promise.all([alice!.version, bob!.version, carol!.version]);
      const aliceGone = closed(alice!.conn);
      const bobGone = closed(bob!.conn);
      const t0 = Date.now();
      assert.equal((await runFerry(['account', 'disable', 'alice'], env)).code, 0);
      assert.equal((await runFerry(['account', 'remove', 'bob'], env)).code, 0);
      await Promise.race([
        Promise.all([aliceGone, bobGone]),
        new Promise((_, reject) => setTimeout(() => reject(new Error('sessions still open after 8 s')), 8000)),
      ]);
      assert.ok(Date.now() - t0 < 8000);
      assert.equal(carol!.closed, false);
      const reply = await carol!.open('.', OPEN_FLAGS.READ).catch((err: Error) => err.message);
      assert.ok(typeof reply === 'string' || Buffer.isBuffer(reply), 'carol is still served');
      carol!.end();
    });
  });
}
