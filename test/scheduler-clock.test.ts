import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { PrimaryLease } from '../src/cluster/lease.js';
import { migrate, openDatabase, type DatabaseHandle } from '../src/db/connect.js';
import { SCHEDULE_RUN_JOB, Scheduler, type ScheduleRunPayload } from '../src/scheduler/scheduler.js';
import { DATABASE_KINDS, freshDatabaseUrl, tempDir } from './harness/databases.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// 2027-01-10 00:00 in Zurich (UTC+1 in winter): a nightly 02:00 there fires at 01:00 UTC.
const MIDNIGHT_ZURICH = Date.parse('2027-01-09T23:00:00Z');

for (const kind of DATABASE_KINDS) {
  describe(`the scheduler on a clock the test moves (${kind})`, () => {
    let handle: DatabaseHandle;
    let scheduler: Scheduler;
    let lease: PrimaryLease;
    let token = 0;
    let clock = MIDNIGHT_ZURICH;
    let queuedSignals = 0;

    const tick = async (at: number) => {
      clock = at;
      assert.ok(await lease.renew(token), 'the test still holds the primary lease');
      await scheduler.run({ token, fence: lease.fence(token) });
    };
    const firings = async () => {
      const jobs = await handle.db.selectFrom('jobs').select(['payload', 'dedupe_key']).where('kind', '=', SCHEDULE_RUN_JOB).orderBy('id').execute();
      return jobs.map((j) => new Date((JSON.parse(j.payload) as ScheduleRunPayload).slot).toISOString());
    };

    before(async () => {
      handle = openDatabase(await freshDatabaseUrl(kind, tempDir()));
      await migrate(handle);
      // The schedule as `ferry schedule add nightly --cron '0 2 * * *' --tz Europe/Zurich --catch-up all` stores it,
      // created (by the database's row) just before the test's midnight.
      await handle.db
        .insertInto('schedules')
        .values({
          name: 'nightly',
          cron: '0 2 * * *',
          timezone: 'Europe/Zurich',
          action: JSON.stringify({ type: 'pull', partner: 'bank', account: 'alice', dir: '/in', glob: '*' }),
          rename: null,
          after_delivery: null,
          catch_up: 'all',
          last_slot: null,
          enabled: 1,
          created_at: MIDNIGHT_ZURICH - 1000,
        })
        .execute();
      lease = new PrimaryLease(handle.db, handle.dialect, 'test-node', 60_000);
      const acquired = await lease.tryAcquire();
      assert.ok('token' in acquired, 'the test takes the primary lease');
      token = acquired.token;
      scheduler = new Scheduler(
        handle.db,
        3,
        pino({ level: 'silent' }),
        () => queuedSignals++,
        () => clock,
      );
    });
    after(() => handle?.close());

    it('fires a nightly schedule at 02:00 in its time zone, once, however often it ticks', async () => {
      await tick(MIDNIGHT_ZURICH + 2 * HOUR - 1);
      assert.deepEqual(await firings(), [], 'nothing before 02:00 Zurich');
      await tick(MIDNIGHT_ZURICH + 2 * HOUR);
      await tick(MIDNIGHT_ZURICH + 2 * HOUR + 500);
      await tick(MIDNIGHT_ZURICH + 3 * HOUR);
      assert.deepEqual(await firings(), ['2027-01-10T01:00:00.000Z']);
      assert.equal(queuedSignals, 1, 'the queue is told once');
    });

    it('catches up every missed night after the primary was away for three days', async () => {
      await tick(MIDNIGHT_ZURICH + 3 * DAY + 12 * HOUR);
      assert.deepEqual(await firings(), ['2027-01-10T01:00:00.000Z', '2027-01-11T01:00:00.000Z', '2027-01-12T01:00:00.000Z', '2027-01-13T01:00:00.000Z']);
      const last = await handle.db.selectFrom('schedules').select('last_slot').where('name', '=', 'nightly').executeTakeFirstOrThrow();
      assert.equal(new Date(Number(last.last_slot)).toISOString(), '2027-01-13T01:00:00.000Z', 'the last slot moved with the firings');
    });

    it('queues nothing once the lease is lost, even when a firing is due', async () => {
      await lease.release(token);
      clock = MIDNIGHT_ZURICH + 4 * DAY + 3 * HOUR;
      await scheduler.run({ token, fence: lease.fence(token) });
      assert.equal((await firings()).length, 4, 'no firing without the lease');
    });
  });
}
