import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HashSlots } from '../src/accounts/hash-slots.js';
import { openDatabase } from '../src/db/connect.js';
import { scrapeMetrics } from './harness/admin.js';
import { adminLogin, adminRequest } from './harness/admin-api.js';
import { DATABASE_KINDS, preparedDatabaseUrl, tempDir } from './harness/databases.js';
import { ferryOk, runFerry, startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';
import { sftpBatch, sshKeygen, type Login } from './harness/openssh.js';
import { waitFor } from './harness/wait.js';

const PASSWORD = 'the right password';
const from = (address: string) => ['-o', `BindAddress=${address}`];

describe('password hash slots: a bounded number of hashes in flight per address', () => {
  it('lets 2 run per address, queues the next ones, refuses beyond the queue, and never holds up another address', async () => {
    const slots = new HashSlots(2, 3);
    let running = 0;
    let peak = 0;
    const releases: Array<() => void> = [];
    const work = () =>
      new Promise<string>((resolve) => {
        running++;
        peak = Math.max(peak, running);
        releases.push(() => {
          running--;
          resolve('done');
        });
      });
    const attacker = Array.from({ length: 6 }, () => slots.run('192.0.2.9', work));
    // 2 run, 3 wait, the sixth is refused at once without running.
    assert.equal(await attacker[5], 'busy');
    assert.equal(running, 2);
    const other = slots.run('198.51.100.1', work);
    await new Promise((r) => setImmediate(r));
    assert.equal(running, 3, 'another address hashes at once, whatever the first one has waiting');
    releases.splice(2, 1)[0]!();
    assert.equal(await other, 'done');
    while (releases.length > 0) {
      releases.shift()!();
      await new Promise((r) => setImmediate(r));
    }
    assert.deepEqual(await Promise.all(attacker.slice(0, 5)), ['done', 'done', 'done', 'done', 'done']);
    assert.equal(peak, 3, 'never more than 2 of one address (plus the other address) at once');
    assert.equal(slots.running, 0);
  });
});

for (const kind of DATABASE_KINDS) {
  describe(`defender: a cluster-wide ban of addresses that keep failing (${kind})`, () => {
    let dir: string;
    let env: FerryEnv;
    let node: RunningNode | undefined;
    let key: string;
    const login = (user: string, password: string): Login => ({ port: node!.sftpPort, user, password, dir });
    const keyLogin = (user: string): Login => ({ port: node!.sftpPort, user, keyFile: key, dir });
    const account = async (name: string) => JSON.parse(await ferryOk(env, ['account', 'show', name, '--json']));
    const hosts = async () => JSON.parse(await ferryOk(env, ['defender', 'list', '--json']));
    const hashes = async () => (await scrapeMetrics(node!.adminPort)).get('ferry_password_hashes_total');
    const works = async (l: Login, address: string) => {
      const r = await sftpBatch(l, ['pwd'], from(address));
      assert.equal(r.code, 0, `${l.user} from ${address}: ${r.stderr}`);
    };
    const refused = async (l: Login, address: string) => {
      const r = await sftpBatch(l, ['pwd'], from(address));
      assert.notEqual(r.code, 0, `${l.user} from ${address} must be refused`);
      return r.stderr;
    };

    before(async () => {
      dir = tempDir();
      env = {
        dataDir: path.join(dir, 'data'),
        databaseUrl: await preparedDatabaseUrl(kind, dir),
        storageDir: path.join(dir, 'storage'),
        // 127.0.0.1 stays safe (the real user); 127.0.0.2 and up are guessers.
        extra: { FERRY_DEFENDER_SAFE_LIST: '127.0.0.1/32', FERRY_DEFENDER_THRESHOLD: '3', FERRY_ACCOUNTS_LOCKOUT_FAILURES: '5' },
      };
      key = sshKeygen(dir);
      await ferryOk(env, ['account', 'add', 'alice', '--password-stdin', '--key', key + '.pub'], PASSWORD + '\n');
      await ferryOk(env, ['account', 'add', 'keyonly', '--key', key + '.pub']);
      await ferryOk(env, ['account', 'add', 'bob', '--password-stdin'], PASSWORD + '\n');
      await ferryOk(env, ['admin', 'add', 'root', '--role', 'admin', '--password-stdin'], 'root password 1234\n');
      await ferryOk(env, ['admin', 'add', 'ops', '--role', 'operator', '--password-stdin'], 'ops password 1234\n');
      await ferryOk(env, ['account', 'add', 'gone', '--password-stdin'], PASSWORD + '\n');
      await ferryOk(env, ['account', 'disable', 'gone']);
      // Records housekeeping must purge (nothing for two days) and keep (a failure just now).
      const db = openDatabase(env.databaseUrl);
      try {
        const old = Date.now() - 48 * 3600_000;
        await db.db
          .insertInto('defender_hosts')
          .values([
            { address: '192.0.2.1', score: 0, window_start: old, banned_until: old + 900_000, bans: 1, last_event_at: old, last_account: 'x' },
            { address: '192.0.2.2', score: 1, window_start: Date.now(), banned_until: null, bans: 0, last_event_at: Date.now(), last_account: 'y' },
          ])
          .execute();
      } finally {
        await db.close();
      }
      node = await startNode(env);
    });

    after(async () => {
      await node?.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('purges the records of addresses quiet for defender.ban_time_max (housekeeping), keeping recent ones', async () => {
      await waitFor(
        'the old defender record purged',
        async () => !(await hosts()).some((h: any) => h.address === '192.0.2.1') && (await countRows(env, '192.0.2.1')) === 0,
      );
      assert.equal(await countRows(env, '192.0.2.2'), 1);
      assert.deepEqual(
        (await hosts()).map((h: any) => [h.address, h.state, h.recentFailures]),
        [['192.0.2.2', 'watched', 1]],
      );
    });

    it('costs one password hash for every refused password, whether the account exists, has a password or is disabled', async () => {
      // Hashing on every path is what makes them take the same time; the counter shows it happened.
      for (const [user, password] of [
        ['alice', 'wrong'],
        ['nobody', 'wrong'],
        ['keyonly', 'anything'],
        ['gone', PASSWORD],
      ] as const) {
        const before = await hashes();
        const stderr = await refused(login(user, password), '127.0.0.1');
        assert.match(stderr, /Permission denied/);
        await waitFor(`the hash of ${user}'s attempt counted`, async () => (await hashes()) >= before + 1, 5000);
        assert.equal(await hashes(), before + 1, `${user}: exactly one hash`);
      }
      await works(login('alice', PASSWORD), '127.0.0.1');
    });

    it('bans an address at defender.threshold failures, before it can lock the account; other addresses go on', async () => {
      for (let i = 0; i < 3; i++) assert.match(await refused(login('alice', `guess ${i}`), '127.0.0.2'), /Permission denied/);
      const banned = (await hosts()).find((h: any) => h.address === '127.0.0.2');
      assert.equal(banned.state, 'banned');
      assert.equal(banned.bans, 1);
      assert.equal(banned.lastAccount, 'alice');
      assert.equal(Date.parse(banned.bannedUntil) - Date.parse(banned.windowStart), 15 * 60_000, 'defender.ban_time');
      await node!.waitForLog((l) => l.msg === 'address banned' && l.client === '127.0.0.2', 5000);

      // The right password and the right key from the banned address: refused, and no hash spent on it.
      const before = await hashes();
      await refused(login('alice', PASSWORD), '127.0.0.2');
      await refused(keyLogin('alice'), '127.0.0.2');
      assert.equal(await hashes(), before);
      const a = await account('alice');
      assert.equal(a.state, 'enabled', 'the guesser was banned before it could lock alice');
      // The real user, from elsewhere, is not held up.
      await works(login('alice', PASSWORD), '127.0.0.1');
      await works(keyLogin('alice'), '127.0.0.3');
    });

    it('closes a banned address’s new connections at once, on every node of the cluster', async () => {
      const nodes = [node!];
      let second: RunningNode | undefined;
      if (kind === 'postgres') {
        second = await startNode({ ...env, dataDir: path.join(dir, 'n2') });
        nodes.push(second);
      }
      try {
        for (const n of nodes) {
          const r = await sftpBatch({ port: n.sftpPort, user: 'alice', password: PASSWORD, dir }, ['pwd'], from('127.0.0.2'));
          assert.notEqual(r.code, 0);
          assert.doesNotMatch(r.stderr, /Permission denied/, 'no login is even tried');
          assert.match(r.stderr, /Connection closed|Connection reset|closed by remote host/);
          const ok = await sftpBatch({ port: n.sftpPort, user: 'alice', password: PASSWORD, dir }, ['pwd'], from('127.0.0.3'));
          assert.equal(ok.code, 0, ok.stderr);
        }
      } finally {
        await second?.kill('SIGKILL');
      }
    });

    it('lists and lifts a ban (ferry defender list|unban), refusing bad input', async () => {
      const table = await ferryOk(env, ['defender', 'list']);
      assert.match(
        table,
        /^ADDRESS\s+STATE\s+BANNED UNTIL\s+FAILURES\s+BANS\s+LAST FAILURE\s+LAST ACCOUNT\n127\.0\.0\.2\s+banned\s+\S+Z\s+0\s+1\s+\S+Z\s+alice\n/,
      );
      for (const [address, message] of [
        ['not-an-address', /^ferry: invalid address "not-an-address": give an IPv4 or IPv6 address\n$/],
        ['203.0.113.7', /^ferry: the defender has no record of 203\.0\.113\.7: it is not banned\n$/],
      ] as const) {
        const r = await runFerry(['defender', 'unban', address], env);
        assert.equal(r.code, 1);
        assert.match(r.stderr, message);
      }
      assert.equal((await hosts()).find((h: any) => h.address === '127.0.0.2').state, 'banned', 'nothing changed');
      // The IPv4-mapped form names the same address.
      assert.equal(await ferryOk(env, ['defender', 'unban', '::ffff:127.0.0.2']), 'address 127.0.0.2 unbanned\n');
      assert.equal(
        (await hosts()).find((h: any) => h.address === '127.0.0.2'),
        undefined,
      );
      await waitFor(
        'the unbanned address let in again',
        async () => (await sftpBatch(login('alice', PASSWORD), ['pwd'], from('127.0.0.2'))).code === 0,
        10_000,
      );
    });

    it('bans a repeat offender twice as long', async () => {
      for (let i = 0; i < 3; i++) await refused(login('nobody', `guess ${i}`), '127.0.0.4');
      // The first ban runs out (its end moved into the past, as 15 minutes would).
      const db = openDatabase(env.databaseUrl);
      try {
        await db.db
          .updateTable('defender_hosts')
          .set({ banned_until: Date.now() - 1 })
          .where('address', '=', '127.0.0.4')
          .execute();
      } finally {
        await db.close();
      }
      await waitFor('the first ban over', async () => (await sftpBatch(keyLogin('alice'), ['pwd'], from('127.0.0.4'))).code === 0, 10_000);
      for (let i = 0; i < 3; i++) await refused(login('nobody', `again ${i}`), '127.0.0.4');
      const second = (await hosts()).find((h: any) => h.address === '127.0.0.4');
      assert.equal(second.state, 'banned');
      assert.equal(second.bans, 2);
      assert.equal(Date.parse(second.bannedUntil) - Date.parse(second.windowStart), 30 * 60_000);
    });

    it('shows and lifts bans in the admin API as the CLI does (GET and DELETE /api/v1/defender/hosts)', async () => {
      const ops = await adminLogin(node!.adminPort, 'ops', 'ops password 1234');
      const root = await adminLogin(node!.adminPort, 'root', 'root password 1234');
      const listed = await adminRequest(node!.adminPort, '/api/v1/defender/hosts', { token: ops });
      assert.equal(listed.status, 200);
      assert.deepEqual(listed.body, await hosts());
      assert.equal(listed.body.find((h: any) => h.address === '127.0.0.4').state, 'banned');
      assert.equal((await adminRequest(node!.adminPort, '/api/v1/defender/hosts/127.0.0.4', { method: 'DELETE', token: ops })).status, 403);
      const bad = await adminRequest(node!.adminPort, '/api/v1/defender/hosts/nonsense', { method: 'DELETE', token: root });
      assert.equal(bad.status, 400);
      assert.match(bad.body.error, /invalid address "nonsense"/);
      const lifted = await adminRequest(node!.adminPort, '/api/v1/defender/hosts/127.0.0.4', { method: 'DELETE', token: root });
      assert.deepEqual([lifted.status, lifted.body], [200, { address: '127.0.0.4', unbanned: true }]);
      assert.equal((await adminRequest(node!.adminPort, '/api/v1/defender/hosts/127.0.0.4', { method: 'DELETE', token: root })).status, 404);
      assert.equal(
        (await hosts()).find((h: any) => h.address === '127.0.0.4'),
        undefined,
      );
    });

    it('locks an account guessed at from several addresses for passwords only, unless accounts.lockout_keys', async () => {
      // 2 wrong passwords from each of 3 addresses: no address banned, the account locked at 5.
      for (const address of ['127.0.0.5', '127.0.0.6', '127.0.0.7']) {
        for (let i = 0; i < 2; i++) await refused(login('alice', 'wrong'), address);
      }
      const a = await account('alice');
      assert.equal(a.state, 'locked');
      assert.deepEqual(
        (await hosts()).filter((h: any) => h.state === 'banned'),
        [],
        'no address is banned',
      );
      await refused(login('alice', PASSWORD), '127.0.0.1');
      await works(keyLogin('alice'), '127.0.0.1');
      assert.equal((await account('alice')).state, 'locked', 'a key login does not lift the password lockout');

      await node!.stop();
      node = await startNode({ ...env, extra: { ...env.extra, FERRY_ACCOUNTS_LOCKOUT_KEYS: 'true' } }, { workers: 2 });
      await refused(keyLogin('alice'), '127.0.0.1');
      await node.waitForLog((l) => l.msg === 'login refused' && l.account === 'alice' && l.reason === 'locked', 5000);
    });

    it('never lets one address bring more than defender.threshold guesses to an account, however many it sends at once', async () => {
      // 12 guesses at once on 2 workers: those that raced the ban are not counted on the account.
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => sftpBatch(login('bob', `parallel ${i}`), ['pwd'], from('127.0.0.8'))));
      assert.ok(results.every((r) => r.code !== 0));
      const bob = await account('bob');
      assert.equal(bob.state, 'enabled');
      assert.ok(bob.lockout.recentFailures <= 3, `bob has ${bob.lockout.recentFailures} failures counted`);
      assert.equal((await hosts()).find((h: any) => h.address === '127.0.0.8').state, 'banned');
      await works(login('bob', PASSWORD), '127.0.0.1');
    });
  });
}

async function countRows(env: FerryEnv, address: string): Promise<number> {
  const db = openDatabase(env.databaseUrl);
  try {
    return (await db.db.selectFrom('defender_hosts').select('address').where('address', '=', address).execute()).length;
  } finally {
    await db.close();
  }
}
