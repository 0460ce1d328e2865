import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { DATABASE_KINDS, freshDatabaseUrl, preparedDatabaseUrl, tempDir } from './harness/databases.js';
import { ferryOk, runFerry, startNode, type FerryEnv, type RunningNode } from './harness/ferry.js';
import { sha256File, writeRandomFile } from './harness/files.js';
import { sftpBatch, sshKeygen, type Login } from './harness/openssh.js';
import { waitFor } from './harness/wait.js';

const ALL = ['--limit', '1000000'];

async function completed(env: FerryEnv): Promise<any[]> {
  return JSON.parse(await ferryOk(env, ['transfers', 'list', '--status', 'completed', '--json', ...ALL]));
}

async function everything(env: FerryEnv): Promise<{ accounts: any[]; transfers: any[] }> {
  return {
    accounts: JSON.parse(await ferryOk(env, ['account', 'list', '--json'])),
    transfers: JSON.parse(await ferryOk(env, ['transfers', 'list', '--json', ...ALL])),
  };
}

/** Whether the database holds no table at all (what a refused restore must leave). */
async function isEmpty(url: string): Promise<boolean> {
  if (url.startsWith('sqlite:')) {
    const file = url.slice('sqlite:'.length);
    return !fs.existsSync(file) || fs.statSync(file).size === 0;
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const r = await client.query("select count(*)::int as n from information_schema.tables where table_schema = 'public'");
    return r.rows[0].n === 0;
  } finally {
    await client.end();
  }
}

function copyDir(from: string, to: string): void {
  fs.cpSync(from, to, { recursive: true });
}

for (const kind of DATABASE_KINDS) {
  describe(`ferry backup and restore (${kind})`, () => {
    let dir: string;
    let env: FerryEnv;
    let node: RunningNode | undefined;
    let backupDir: string;
    let committedBeforeBackup: any[];
    let accountsBeforeBackup: any[];

    const freshEnv = async (name: string): Promise<FerryEnv> => {
      fs.mkdirSync(path.join(dir, name));
      return { dataDir: path.join(dir, name, 'data'), databaseUrl: await freshDatabaseUrl(kind, path.join(dir, name)) };
    };

    before(async () => {
      dir = tempDir();
      env = { dataDir: path.join(dir, 'data'), databaseUrl: await preparedDatabaseUrl(kind, dir), storageDir: path.join(dir, 'storage') };
      backupDir = path.join(dir, 'backup');
    });
    after(async () => {
      await node?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('backs up while a client uploads; the restore holds every committed transfer, every account and their files', async () => {
      const key = sshKeygen(dir);
      await ferryOk(env, ['account', 'add', 'alice', '--key', key + '.pub']);
      await ferryOk(env, ['account', 'add', 'bob', '--password-stdin', '--home', 'partners/bob'], 'b0b secret\n');
      await ferryOk(env, ['account', 'add', 'carol', '--password-stdin'], 'c4rol\n');
      await ferryOk(env, ['account', 'disable', 'carol']);
      node = await startNode(env);
      const source = path.join(dir, 'source.bin');
      writeRandomFile(source, 256 * 1024, 3);
      const login: Login = { port: node.sftpPort, user: 'alice', keyFile: key, dir };

      // Uploads keep running until the backup is done (at most 40 batches of 10 files).
      let stop = false;
      const uploads = (async () => {
        for (let batch = 0; batch < 40 && !stop; batch++) {
          const r = await sftpBatch(
            login,
            Array.from({ length: 10 }, (_, i) => `put ${source} up-${batch}-${i}.bin`),
          );
          assert.equal(r.code, 0, r.stderr);
        }
      })();
      try {
        await waitFor('10 uploads committed', async () => ((await completed(env)).length >= 10 ? true : undefined), 60_000, 200);
        committedBeforeBackup = await completed(env);
        accountsBeforeBackup = JSON.parse(await ferryOk(env, ['account', 'list', '--json']));
        const backup = await runFerry(['backup', backupDir, '--with-files'], env);
        assert.equal(backup.code, 0, backup.stderr);
        assert.match(backup.stdout, new RegExp(`backed up the ${kind} database`));
        assert.match(backup.stdout, /files of .*storage: \d+ \(\d+ bytes\)/);
        await waitFor(
          'an upload committed after the backup',
          async () => ((await completed(env)).length > committedBeforeBackup.length ? true : undefined),
          60_000,
          200,
        );
      } finally {
        stop = true;
        await uploads;
      }

      const manifest = JSON.parse(fs.readFileSync(path.join(backupDir, 'manifest.json'), 'utf8'));
      assert.equal(manifest.database.kind, kind);
      assert.match(manifest.database.migration, /^\d{4}_/);
      assert.match(manifest.files[0].sha256, /^[0-9a-f]{64}$/);
      assert.ok(
        manifest.files.some((f: any) => f.name === 'configuration.xml'),
        'the configuration snapshot is in the manifest',
      );
      const snapshot = fs.readFileSync(path.join(backupDir, 'configuration.xml'), 'utf8');
      assert.match(snapshot, /<ferry-snapshot version="1">/);
      for (const name of ['alice', 'bob', 'carol']) assert.match(snapshot, new RegExp(`<account name="${name}"`));
      assert.ok(manifest.storage.files >= committedBeforeBackup.length);
      assert.ok(!manifest.files.some((f: any) => f.name.startsWith('files/.partial')), 'partial uploads are not backed up');
      assert.equal(fs.statSync(backupDir).mode & 0o777, 0o700, 'the backup holds secrets: only its owner may read it');

      const restored = { ...(await freshEnv('restored')), storageDir: path.join(dir, 'restored', 'storage') };
      const restore = await runFerry(['restore', backupDir, '--with-files'], restored);
      assert.equal(restore.code, 0, restore.stderr);
      assert.match(restore.stdout, /restored the backup .*: 3 accounts, \d+ transfers, \d+ files/);
      const after = await everything(restored);
      const byId = new Map(after.transfers.map((t) => [t.id, t]));
      for (const row of committedBeforeBackup) assert.deepEqual(byId.get(row.id), row, `transfer ${row.id} restored as it was`);
      assert.deepEqual(after.accounts, accountsBeforeBackup);
      for (const row of committedBeforeBackup) {
        assert.equal(sha256File(path.join(restored.storageDir, 'alice', row.path)), row.sha256, `${row.path} restored whole`);
      }
      // The restored database and storage work as a node's: it starts, and the accounts log in and see their files.
      const restoredNode = await startNode(restored);
      try {
        const r = await sftpBatch({ ...login, port: restoredNode.sftpPort }, ['ls', `get up-0-0.bin ${path.join(dir, 'fetched.bin')}`]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /up-0-0\.bin/);
        assert.equal(sha256File(path.join(dir, 'fetched.bin')), sha256File(source));
      } finally {
        await restoredNode.stop();
      }
    });

    it('refuses a damaged or unfinished backup, and leaves the target empty', async () => {
      const damaged = path.join(dir, 'damaged');
      copyDir(backupDir, damaged);
      const file = path.join(damaged, JSON.parse(fs.readFileSync(path.join(damaged, 'manifest.json'), 'utf8')).files[0].name);
      const bytes = fs.readFileSync(file);
      bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
      fs.writeFileSync(file, bytes);
      const target = await freshEnv('damaged-target');
      const r = await runFerry(['restore', damaged], target);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^ferry: the backup in .* is damaged: database\.\w+ does not match the manifest/);
      assert.ok(await isEmpty(target.databaseUrl), 'nothing restored');

      fs.rmSync(path.join(damaged, 'manifest.json'));
      const unfinished = await runFerry(['restore', damaged], target);
      assert.equal(unfinished.code, 1);
      assert.match(unfinished.stderr, /manifest\.json is missing/);
      assert.ok(await isEmpty(target.databaseUrl));
    });

    it('refuses a target database that is not empty, and changes nothing in it', async () => {
      const before = await everything(env);
      const r = await runFerry(['restore', backupDir], env);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /the target database .*is not empty/);
      assert.deepEqual(await everything(env), before);

      const target = { ...(await freshEnv('busy-storage')), storageDir: path.join(dir, 'busy-storage', 'storage') };
      fs.mkdirSync(target.storageDir);
      fs.writeFileSync(path.join(target.storageDir, 'someone-elses.txt'), 'x');
      const files = await runFerry(['restore', backupDir, '--with-files'], target);
      assert.equal(files.code, 1);
      assert.match(files.stderr, /storage\.dir .* is not empty/);
      assert.ok(await isEmpty(target.databaseUrl), 'the database untouched too');
      assert.deepEqual(fs.readdirSync(target.storageDir), ['someone-elses.txt']);
    });

    it('refuses a backup of the other kind of database, and a backup into a directory in use', async () => {
      const other = path.join(dir, 'other-kind');
      copyDir(backupDir, other);
      const manifestFile = path.join(other, 'manifest.json');
      const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
      manifest.database.kind = kind === 'sqlite' ? 'postgres' : 'sqlite';
      fs.writeFileSync(manifestFile, JSON.stringify(manifest));
      const target = await freshEnv('other-target');
      const r = await runFerry(['restore', other], target);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /restore supports sqlite → sqlite and postgres → postgres/);
      assert.ok(await isEmpty(target.databaseUrl));

      const again = await runFerry(['backup', backupDir], env);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /is not empty: back up into a new or empty directory/);
      assert.ok(fs.existsSync(path.join(backupDir, 'manifest.json')), 'the existing backup is untouched');
    });
  });
}
