import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { migrate, openDatabase, type DatabaseHandle } from '../src/db/connect.js';
import { tempDir } from './harness/databases.js';

const betterSqlite3 = createRequire(import.meta.url).resolve('better-sqlite3');

/**
 * Another process (a node's worker, the CLI) writing to the same SQLite file: it
 * says "trying" and then "written" once its insert has committed.
 */
function otherProcessWrites(file: string, name: string) {
  const script = `
    const db = new (require(${JSON.stringify(betterSqlite3)}))(${JSON.stringify(file)});
    db.pragma('busy_timeout = 10000');
    process.stdout.write('trying\\n');
    db.prepare("insert into admin_users (name, password_hash, role, disabled, created_at, updated_at) values (?, 'x', 'operator', 0, 1, 1)").run(${JSON.stringify(name)});
    process.stdout.write('written\\n');`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  const said = (word: string) =>
    new Promise<boolean>((resolve) => {
      const check = () => output.includes(word) && resolve(true);
      child.stdout.on('data', (d: Buffer) => ((output += d.toString()), check()));
      child.on('exit', () => resolve(output.includes(word)));
    });
  return { trying: said('trying'), written: said('written'), exited: new Promise<number | null>((r) => child.on('exit', r)) };
}

describe('SQLite transactions beside other processes writing to the same file', () => {
  let dir: string;
  let file: string;
  let handle: DatabaseHandle;

  before(async () => {
    dir = tempDir();
    file = path.join(dir, 'ferry.db');
    handle = openDatabase(`sqlite:${file}`);
    await migrate(handle);
  });
  after(async () => {
    await handle.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a transaction that reads, then writes after another process wrote, commits (it does not fail with SQLITE_BUSY)', async () => {
    let other: ReturnType<typeof otherProcessWrites> | undefined;
    await handle.db.transaction().execute(async (trx) => {
      const seen = await trx.selectFrom('admin_users').select('name').execute();
      other = otherProcessWrites(file, 'from-another-process');
      await other.trying;
      // Its chance to commit: begun DEFERRED, this transaction would let it, and its own write below
      // would then fail at once with SQLITE_BUSY (its snapshot is stale).
      await Promise.race([other.written, new Promise((r) => setTimeout(r, 500))]);
      await trx
        .insertInto('admin_users')
        .values({ name: `after-${seen.length}`, password_hash: 'x', role: 'operator', disabled: 0, created_at: 1, updated_at: 1 })
        .execute();
    });
    assert.equal(await other!.exited, 0, 'the other process wrote once the transaction had committed');
    const names = (await handle.db.selectFrom('admin_users').select('name').orderBy('name').execute()).map((r) => r.name);
    assert.deepEqual(names, ['after-0', 'from-another-process']);
  });

  it('a read-only transaction does not hold other processes back', async () => {
    await handle.db
      .transaction()
      .setAccessMode('read only')
      .execute(async (trx) => {
        await trx.selectFrom('admin_users').select('name').execute();
        const other = otherProcessWrites(file, 'while-reading');
        assert.equal(await other.written, true);
        assert.equal(await other.exited, 0);
      });
    const names = (await handle.db.selectFrom('admin_users').select('name').execute()).map((r) => r.name);
    assert.ok(names.includes('while-reading'));
  });
});
