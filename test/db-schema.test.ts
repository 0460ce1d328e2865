import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { openDatabase, schemaMigrator } from '../src/db/connect.js';
import { migrations } from '../src/db/migrations.js';
import { DATABASE_KINDS, freshDatabaseUrl, tempDir, type DatabaseKind } from './harness/databases.js';
import { runFerry, startNode, type FerryEnv } from './harness/ferry.js';

/** Everything the schema consists of: applied migrations, tables with their columns, indexes. */
async function schemaFingerprint(kind: DatabaseKind, url: string): Promise<{ migrations: string[]; objects: string[] }> {
  const handle = openDatabase(url, { poolSize: 1 });
  try {
    const objects =
      kind === 'sqlite'
        ? (await sql<{ d: string }>`select type || ' ' || name || ' ' || coalesce(sql, '') as d from sqlite_master order by type, name`.execute(handle.db)).rows
        : (
            await sql<{ d: string }>`
              select 'column ' || table_name || '.' || column_name || ' ' || data_type as d from information_schema.columns where table_schema = current_schema()
              union all select 'index ' || indexdef from pg_indexes where schemaname = current_schema()
              order by d`.execute(handle.db)
          ).rows;
    const applied = await sql<{ name: string }>`select name from ferry_migrations order by name`.execute(handle.db).then(
      (r) => r.rows.map((row) => row.name),
      () => [],
    );
    return { migrations: applied, objects: objects.map((o) => o.d) };
  } finally {
    await handle.close();
  }
}

/** `ferry start`'s outcome: 'ready', or the output of a node that exited. */
async function startOutcome(env: FerryEnv): Promise<string> {
  return startNode(env).then(
    async (node) => {
      await node.stop();
      return 'ready';
    },
    (err: Error) => err.message,
  );
}

for (const kind of DATABASE_KINDS) {
  describe(`database schema versions (${kind})`, () => {
    const known = Object.keys(migrations(kind)).sort();
    const latest = known[known.length - 1]!;
    // An older Ferry's schema: all but the last two migrations this one knows.
    const older = known[known.length - 3]!;
    let dir: string;
    let env: FerryEnv;

    before(async () => {
      dir = tempDir();
      env = { dataDir: path.join(dir, 'data'), databaseUrl: await freshDatabaseUrl(kind, dir) };
      const handle = openDatabase(env.databaseUrl, { poolSize: 1 });
      try {
        const { error } = await schemaMigrator(handle).migrateTo(older);
        if (error) throw error;
      } finally {
        await handle.close();
      }
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('refuses an older schema in commands and in ferry start, changing nothing; ferry db migrate upgrades it', async () => {
      const before = await schemaFingerprint(kind, env.databaseUrl);
      assert.equal(before.migrations[before.migrations.length - 1], older);
      const message = `database schema is at ${older}, this Ferry knows up to ${latest}: run \`ferry db migrate\``;

      for (const [args, input] of [[['account', 'list']], [['account', 'add', 'bob', '--password-stdin'], 'secret\n'], [['transfers', 'list']]] as Array<
        [string[], string?]
      >) {
        const r = await runFerry(args, env, input);
        assert.equal(r.code, 1, `ferry ${args.join(' ')}: ${r.stdout}`);
        assert.equal(r.stderr, `ferry: ${message}\n`);
      }
      const start = await startOutcome(env);
      assert.match(start, /ferry start exited with 1/);
      assert.ok(start.includes(`ferry: ${message}`), start);
      assert.deepEqual(await schemaFingerprint(kind, env.databaseUrl), before, 'nothing changed');

      const status = await runFerry(['db', 'status', '--json'], env);
      assert.equal(status.code, 0, status.stderr);
      assert.deepEqual(JSON.parse(status.stdout), {
        database: JSON.parse(status.stdout).database,
        schema: older,
        latest,
        condition: 'behind',
        pending: known.slice(-2),
        unknown: [],
      });
      const dryRun = await runFerry(['db', 'migrate', '--dry-run'], env);
      assert.equal(dryRun.stdout, `would migrate the database schema from ${older} to ${latest}: ${known.slice(-2).join(', ')}\n`);
      assert.deepEqual(await schemaFingerprint(kind, env.databaseUrl), before, 'a dry run changes nothing');

      const migrated = await runFerry(['db', 'migrate'], env);
      assert.equal(migrated.code, 0, migrated.stderr);
      assert.equal(migrated.stdout, `migrated the database schema from ${older} to ${latest}: ${known.slice(-2).join(', ')}\n`);
      assert.deepEqual((await schemaFingerprint(kind, env.databaseUrl)).migrations, known);
      const list = await runFerry(['account', 'list'], env);
      assert.equal(list.code, 0, list.stderr);
      assert.equal((await runFerry(['db', 'migrate'], env)).stdout, `database schema is up to date at ${latest}\n`);
      assert.equal(await startOutcome(env), 'ready');
    });

    it('refuses a schema with a migration this Ferry does not know (written by a newer Ferry)', async () => {
      const newer = '9999_from_a_newer_ferry';
      const handle = openDatabase(env.databaseUrl, { poolSize: 1 });
      try {
        await sql`insert into ferry_migrations (name, timestamp) values (${newer}, ${new Date().toISOString()})`.execute(handle.db);
      } finally {
        await handle.close();
      }
      const before = await schemaFingerprint(kind, env.databaseUrl);
      const message = `database schema ${newer} is newer than this Ferry (up to ${latest}): upgrade Ferry`;
      for (const args of [
        ['account', 'list'],
        ['db', 'migrate'],
      ]) {
        const r = await runFerry(args, env);
        assert.equal(r.code, 1, `ferry ${args.join(' ')}: ${r.stdout}`);
        assert.equal(r.stderr, `ferry: ${message}\n`);
      }
      const start = await startOutcome(env);
      assert.ok(start.includes(`ferry: ${message}`), start);
      assert.deepEqual(await schemaFingerprint(kind, env.databaseUrl), before, 'nothing changed');
      const status = JSON.parse((await runFerry(['db', 'status', '--json'], env)).stdout);
      assert.equal(status.condition, 'newer');
      assert.deepEqual(status.unknown, [newer]);
    });

    it('initialises a brand-new empty database from the first command', async () => {
      const fresh: FerryEnv = { dataDir: path.join(dir, 'fresh'), databaseUrl: await freshDatabaseUrl(kind, path.join(dir, 'fresh')) };
      fs.mkdirSync(fresh.dataDir, { recursive: true });
      const empty = JSON.parse((await runFerry(['db', 'status', '--json'], fresh)).stdout);
      assert.equal(empty.condition, 'empty');
      assert.equal(empty.schema, null);
      assert.deepEqual((await schemaFingerprint(kind, fresh.databaseUrl)).migrations, [], 'db status changes nothing');
      const add = await runFerry(['account', 'add', 'alice', '--password-stdin'], fresh, 'secret\n');
      assert.equal(add.code, 0, add.stderr);
      assert.deepEqual((await schemaFingerprint(kind, fresh.databaseUrl)).migrations, known);
      assert.equal(JSON.parse((await runFerry(['db', 'status', '--json'], fresh)).stdout).condition, 'current');
    });
  });
}
