import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { migrate, openDatabase } from '../src/db/connect.js';
import { TransferLog } from '../src/transfers/transfer-log.js';
import { DATABASE_KINDS, preparedDatabaseUrl, tempDir } from './harness/databases.js';
import { ferryOk, runFerry, type FerryEnv } from './harness/ferry.js';

const COLUMNS = 'id,status,direction,protocol,account,path,client,node,session,offset,bytes,started,ended,sha256,error,attempts,destination,whole';
const AWKWARD_PATH = '/in/a,b "quoted"\nsecond line.csv';
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A reader for RFC 4180 CSV, written apart from Ferry's writer: quoted fields, doubled quotes, CRLF records. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i++;
    } else field += c;
  }
  assert.equal(field + record.join(''), '', 'the last record ends with CRLF');
  return records;
}

for (const kind of DATABASE_KINDS) {
  describe(`ferry transfers export (${kind})`, () => {
    let dir: string;
    let env: FerryEnv;
    let ids: number[];

    before(async () => {
      dir = tempDir();
      env = { dataDir: path.join(dir, 'data'), databaseUrl: await preparedDatabaseUrl(kind, dir) };
      const handle = openDatabase(env.databaseUrl);
      try {
        await migrate(handle);
        const log = new TransferLog(handle.db);
        const start = {
          nodeId: 'n1',
          workerPid: 1,
          sessionId: 's1',
          account: 'alice',
          protocol: 'sftp',
          clientAddress: '127.0.0.1',
          direction: 'upload' as const,
          startOffset: 0,
        };
        // Two days old: outside --since 1h.
        await handle.db
          .insertInto('transfers')
          .values({
            node_id: 'n1',
            worker_pid: 1,
            session_id: 's0',
            account: 'alice',
            protocol: 'sftp',
            client_address: '127.0.0.1',
            path: '/old.bin',
            direction: 'upload',
            start_offset: 0,
            bytes: 5,
            started_at: Date.now() - 2 * 86_400_000,
            ended_at: Date.now() - 2 * 86_400_000 + 10,
            sha256: null,
            status: 'completed',
            error: null,
          })
          .execute();
        const awkward = await log.start({ ...start, path: AWKWARD_PATH });
        await log.finish(awkward, { status: 'completed', bytes: 42, sha256: 'ab'.repeat(32) });
        const failed = await log.start({ ...start, path: '/plain.txt', direction: 'download' });
        await log.finish(failed, { status: 'failed', bytes: 7, error: 'disk full, "ENOSPC"' });
        const running = await log.start({ ...start, path: '/running.bin' });
        ids = [awkward, failed, running];
      } finally {
        await handle.close();
      }
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('writes CSV with a fixed header, RFC 4180 quoting and RFC 3339 times, oldest first', async () => {
      const text = await ferryOk(env, ['transfers', 'export', '--since', '1h', '--format', 'csv']);
      assert.ok(text.startsWith(COLUMNS + '\r\n'));
      assert.ok(text.includes('"/in/a,b ""quoted""\nsecond line.csv"'), 'the path quoted, its quotes doubled, its newline kept');
      const [header, ...rows] = parseCsv(text);
      assert.equal(header!.join(','), COLUMNS);
      assert.deepEqual(
        rows.map((r) => Number(r[0])),
        ids,
        'the old row left out, the rest by id',
      );
      const [awkward, failed, running] = rows.map((r) => Object.fromEntries(header!.map((c, i) => [c, r[i]])));
      assert.equal(awkward!.path, AWKWARD_PATH);
      assert.equal(awkward!.bytes, '42');
      assert.equal(awkward!.status, 'completed');
      assert.match(awkward!.started!, RFC3339);
      assert.match(awkward!.ended!, RFC3339);
      assert.equal(failed!.error, 'disk full, "ENOSPC"');
      assert.equal(failed!.direction, 'download');
      assert.equal(running!.status, 'in-progress');
      assert.equal(running!.ended, '', 'null is an empty field');
    });

    it('writes JSON: an array of the transfers as `transfers list --json` shows them', async () => {
      const exported = JSON.parse(await ferryOk(env, ['transfers', 'export', '--since', '1h', '--format', 'json']));
      const listed = JSON.parse(await ferryOk(env, ['transfers', 'list', '--json']));
      assert.deepEqual(exported, listed.filter((t: any) => ids.includes(t.id)).reverse());
      assert.deepEqual(Object.keys(exported[0]).join(','), COLUMNS);
      const all = JSON.parse(await ferryOk(env, ['transfers', 'export', '--format', 'json']));
      assert.equal(all.length, 4, 'without --since: the whole log');
      assert.equal(all[0].path, '/old.bin');
    });

    it('exports a log longer than a page, each row once, in order', async () => {
      const handle = openDatabase(env.databaseUrl);
      try {
        for (let chunk = 0; chunk < 3; chunk++) {
          const rows = Array.from({ length: 1000 }, (_, i) => ({
            node_id: 'n1',
            worker_pid: 1,
            session_id: 's',
            account: 'bob',
            protocol: 'sftp',
            client_address: '127.0.0.1',
            path: `/bulk-${chunk}-${i}`,
            direction: 'upload' as const,
            start_offset: 0,
            bytes: i,
            started_at: Date.now(),
            ended_at: Date.now(),
            sha256: null,
            status: 'completed' as const,
            error: null,
          }));
          await handle.db.insertInto('transfers').values(rows).execute();
        }
      } finally {
        await handle.close();
      }
      const exported = JSON.parse(await ferryOk(env, ['transfers', 'export', '--since', '1h', '--format', 'json']));
      const bulk = exported.filter((t: any) => t.account === 'bob');
      assert.equal(bulk.length, 3000);
      assert.equal(new Set(exported.map((t: any) => t.id)).size, exported.length);
      assert.deepEqual(
        exported.map((t: any) => t.id),
        [...exported.map((t: any) => t.id)].sort((a: number, b: number) => a - b),
      );
      const csv = parseCsv(await ferryOk(env, ['transfers', 'export', '--since', '1h']));
      assert.equal(csv.length, exported.length + 1);
    });

    it('writes to a new file with --output, and refuses an existing one or bad options', async () => {
      const file = path.join(dir, 'archive.csv');
      const r = await runFerry(['transfers', 'export', '--since', '1h', '--output', file], env);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /exported 3003 transfers/);
      assert.equal(r.stdout, '');
      assert.equal(parseCsv(fs.readFileSync(file, 'utf8')).length, 3004);
      const cases: Array<[string[], RegExp]> = [
        [['--output', file], /already exists/],
        [['--format', 'xml'], /unknown --format "xml": use csv or json/],
        [['--since', 'last week'], /invalid --since "last week"/],
        [['--output', path.join(dir, 'missing', 'x.csv')], /directory does not exist/],
      ];
      const before = fs.readFileSync(file, 'utf8');
      for (const [args, message] of cases) {
        const bad = await runFerry(['transfers', 'export', ...args], env);
        assert.equal(bad.code, 1, args.join(' '));
        assert.match(bad.stderr, message);
      }
      assert.equal(fs.readFileSync(file, 'utf8'), before, 'the existing archive untouched');
      assert.deepEqual(
        fs.readdirSync(dir).filter((f) => f.includes('partial')),
        [],
        'no partial file left',
      );
    });
  });
}
