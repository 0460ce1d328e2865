import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { NotPrimaryAnyMore, type Leadership, type SingletonService } from '../cluster/coordinator.js';
import type { Database } from '../db/schema.js';
import { enqueueJob } from '../queue/work-queue.js';
import { cronOf, dueSlots, scheduleAction, slotsToRun, type ScheduleAction } from './schedules.js';

export const SCHEDULE_RUN_JOB = 'schedule-run';
const TICK_MS = 500;

export interface ScheduleRunPayload {
  schedule: string;
  scheduleId: number;
  slot: number;
  action: ScheduleAction;
  rename: string | null;
  after: 'delete' | 'archive' | null;
}

/**
 * The scheduler, a singleton on the primary: turns each due firing of each cron
 * schedule into one queued job. The schedule's last slot moves forward in the
 * same fenced transaction that queues the firings, and each firing has a dedupe
 * key, so a firing runs once however often the primary changes: a new primary
 * starts after the last slot its predecessor committed.
 */
export class Scheduler implements SingletonService {
  readonly name = 'scheduler';
  readonly intervalMs = TICK_MS;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly maxAttempts: number,
    private readonly log: Logger,
    private readonly onQueued: () => void,
    /** The wall clock the firings are computed on; tests pass their own to cross days in milliseconds. */
    private readonly now: () => number = Date.now,
  ) {}

  async run({ fence }: Leadership): Promise<void> {
    const schedules = await this.db.selectFrom('schedules').selectAll().where('enabled', '=', 1).execute();
    const now = this.now();
    for (const schedule of schedules) {
      let cron;
      try {
        cron = cronOf(schedule);
      } catch (err) {
        this.log.error({ schedule: schedule.name, err: (err as Error).message }, 'schedule cannot be evaluated');
        continue;
      }
      const due = dueSlots(cron, schedule.last_slot ?? Number(schedule.created_at), now, schedule.catch_up);
      if (due.length === 0) continue;
      const run = slotsToRun(schedule.catch_up, due, now, 2 * TICK_MS + 1000);
      if (due.length > 1 || run.length !== due.length) {
        this.log.warn({ schedule: schedule.name, due: due.length, running: run.length, catchUp: schedule.catch_up }, 'catching up missed firings');
      }
      const action = scheduleAction(schedule);
      try {
        await this.db.transaction().execute(async (trx) => {
          const moved = await trx
            .updateTable('schedules')
            .set({ last_slot: due[due.length - 1]! })
            .where('id', '=', schedule.id)
            .where((eb) => (schedule.last_slot === null ? eb('last_slot', 'is', null) : eb('last_slot', '=', schedule.last_slot)))
            .where(fence)
            .executeTakeFirst();
          if (Number(moved.numUpdatedRows) !== 1) throw new NotPrimaryAnyMore();
          for (const slot of run) {
            const payload: ScheduleRunPayload = {
              schedule: schedule.name,
              scheduleId: Number(schedule.id),
              slot,
              action,
              rename: schedule.rename,
              after: schedule.after_delivery,
            };
            await enqueueJob(trx, { kind: SCHEDULE_RUN_JOB, payload, maxAttempts: this.maxAttempts, dedupeKey: `schedule:${schedule.id}:${slot}` });
          }
        });
      } catch (err) {
        if (err instanceof NotPrimaryAnyMore) return; // not primary any more, or the row changed: the next round sees
        throw err;
      }
      for (const slot of run) this.log.info({ schedule: schedule.name, slot: new Date(slot).toISOString() }, 'schedule fired');
      if (run.length > 0) this.onQueued();
    }
  }
}
