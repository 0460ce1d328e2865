import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../src/db/connect.js';
import { DATABASE_KINDS, freshDatabaseUrl, tempDir } from './harness/databases.js';
import { runFerry, type FerryEnv } from './harness/ferry.js';
import { sshKeygen } from './harness/openssh.js';

for (const kind of DATABASE_KINDS) {
  describe(`ferry account (${kind})`, () => {
    let dir: string;
    let env: FerryEnv;

    before(async () => {
      dir = tempDir();
      env = { dataDir: path.join(dir, 'data'), databaseUrl: await freshDatabaseUrl(kind, dir) };
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('adds an account with a password and two keys, and shows them', async () => {
      const k1 = sshKeygen(dir, 'k1');
      const k2 = sshKeygen(dir, 'k2');
      const add = await runFerry(
        ['account', 'add', 'alice', '--password-stdin', '--key', k1 + '.pub', '--key', k2 + '.pub', '--home', 'partners/alice'],
        env,
        'pa55word\n',
      );
      assert.equal(add.code, 0, add.stderr);
      const show = JSON.parse((await runFerry(['account', 'show', 'alice', '--json'], env)).stdout);
      assert.equal(show.name, 'alice');
      assert.equal(show.state, 'enabled');
      assert.equal(show.home, 'partners/alice');
      assert.equal(show.password, true);
      assert.equal(show.keys.length, 2);
      assert.match(show.keys[0].fingerprint, /^SHA256:/);
      assert.equal(show.keys[0].comment, 'k1@test');
      const list = await runFerry(['account', 'list'], env);
      assert.match(list.stdout, /^NAME\s+STATE\s+PASSWORD\s+KEYS\s+HOME\nalice\s+enabled\s+yes\s+2\s+partners\/alice\n$/);
    });

    it('never stores the password in clear', async () => {
      const db = openDatabase(env.databaseUrl);
      try {
        const row = await db.db.selectFrom('accounts').select('password_hash').where('name', '=', 'alice').executeTakeFirstOrThrow();
        assert.match(row.password_hash!, /^scrypt\$32768\$8\$1\$/);
        assert.ok(!row.password_hash!.includes('pa55word'));
      } finally {
        await db.close();
      }
    });

    it('disables, enables, changes the password and removes', async () => {
      assert.equal((await runFerry(['account', 'disable', 'alice'], env)).code, 0);
      assert.equal(JSON.parse((await runFerry(['account', 'show', 'alice', '--json'], env)).stdout).state, 'disabled');
      assert.equal((await runFerry(['account', 'enable', 'alice'], env)).code, 0);
      assert.equal(JSON.parse((await runFerry(['account', 'show', 'alice', '--json'], env)).stdout).state, 'enabled');
      assert.equal((await runFerry(['account', 'passwd', 'alice', '--password-stdin'], env, 'other\n')).code, 0);
      const removed = await runFerry(['account', 'remove', 'alice'], env);
      assert.equal(removed.code, 0);
      assert.deepEqual(JSON.parse((await runFerry(['account', 'list', '--json'], env)).stdout), []);
    });

    it('refuses bad input with a clear message and exit code, changing nothing', async () => {
      const cases: Array<[string[], string | undefined, RegExp]> = [
        [['account', 'add', '../evil', '--password-stdin'], 'x\n', /invalid account name/],
        [['account', 'add', 'bob'], undefined, /needs --password-stdin or at least one --key/],
        [['account', 'add', 'bob', '--password-stdin'], '', /no password on standard input/],
        [['account', 'add', 'bob', '--key', path.join(dir, 'missing.pub')], undefined, /cannot read key file/],
        [['account', 'add', 'bob', '--key', path.join(dir, 'k1')], undefined, /private key/],
        [['account', 'add', 'bob', '--password-stdin', '--home', '../../etc'], 'x\n', /invalid home/],
        [['account', 'show', 'nobody'], undefined, /no account named "nobody"/],
        [['account', 'passwd', 'nobody', '--password-stdin'], 'x\n', /no account named "nobody"/],
      ];
      for (const [args, input, message] of cases) {
        const result = await runFerry(args, env, input);
        assert.equal(result.code, 1, args.join(' '));
        assert.match(result.stderr, message);
        assert.match(result.stderr, /^ferry: /);
      }
      assert.equal((await runFerry(['account', 'add', 'dup', '--password-stdin'], env, 'x\n')).code, 0);
      const dup = await runFerry(['account', 'add', 'dup', '--password-stdin'], env, 'y\n');
      assert.equal(dup.code, 1);
      assert.match(dup.stderr, /already exists/);
      const names = (JSON.parse((await runFerry(['account', 'list', '--json'], env)).stdout) as any[]).map((a) => a.name);
      assert.deepEqual(names, ['dup']);
      const usage = await runFerry(['account', 'frobnicate'], env);
      assert.equal(usage.code, 2);
    });
  });
}
