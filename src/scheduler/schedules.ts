import { Cron } from 'croner';
import type { Kysely, Selectable } from 'kysely';
import type { AfterDelivery, CatchUp, Database, SchedulesTable } from '../db/schema.js';
import { PartnerError, validateName } from '../routing/partners.js';
import { validateRenamePattern } from '../routing/rename-pattern.js';
import { requireAccount, requirePartner, validateFolder, validateGlob } from '../routing/routes.js';

export type ScheduleRow = Selectable<SchedulesTable>;

/** Push an account folder's files to a partner, or pull a partner's files into an account folder. */
export interface ScheduleAction {
  type: 'push' | 'pull';
  partner: string;
  account: string;
  /** The folder inside the account's home. */
  dir: string;
  /** Which files: a glob on the file name. */
  glob: string;
}

export interface ScheduleDefinition {
  name: string;
  cron: string;
  timezone: string | null;
  action: ScheduleAction;
  rename: string | null;
  after: AfterDelivery | null;
  catchUp: CatchUp;
  /** Defaults to true. */
  enabled?: boolean;
}

export const CATCH_UP: CatchUp[] = ['latest', 'all', 'none'];
/** At most this many missed firings are run after a long outage with catch-up 'all'. */
export const MAX_CATCH_UP = 100;

export function scheduleAction(row: Pick<ScheduleRow, 'action'>): ScheduleAction {
  return JSON.parse(row.action) as ScheduleAction;
}

export function cronOf(row: Pick<ScheduleRow, 'cron' | 'timezone'>): Cron {
  return new Cron(row.cron, { paused: true, ...(row.timezone ? { timezone: row.timezone } : {}) });
}

/** Validates a cron expression (5 or 6 fields) and time zone: one clear error, or nothing. */
export function validateCron(cron: string, timezone: string | null): void {
  try {
    cronOf({ cron, timezone }).nextRun();
  } catch (err) {
    throw new PartnerError(`invalid schedule "${cron}"${timezone ? ` in ${timezone}` : ''}: ${(err as Error).message}`);
  }
}

/**
 * Firing times after `after` up to and including `now`, oldest first. Only 'all'
 * needs every one; the other policies need the latest, found without walking.
 */
export function dueSlots(cron: Cron, after: number, now: number, policy: CatchUp): number[] {
  if (policy !== 'all') {
    const latest = cron.previousRuns(1, new Date(now + 1))[0]?.getTime();
    return latest !== undefined && latest > after && latest <= now ? [latest] : [];
  }
  return walkSlots(cron, after, now, MAX_CATCH_UP * 100);
}

function walkSlots(cron: Cron, after: number, now: number, limit: number): number[] {
  const slots: number[] = [];
  let at = new Date(after);
  for (let i = 0; i < limit; i++) {
    const next = cron.nextRun(at);
    if (!next || next.getTime() > now) break;
    slots.push(next.getTime());
    at = next;
  }
  return slots;
}

/**
 * Which due slots run: 'all' every missed one (the latest MAX_CATCH_UP), 'latest'
 * only the most recent, 'none' only a slot that is not late by more than `toleranceMs`.
 */
export function slotsToRun(policy: CatchUp, slots: number[], now: number, toleranceMs: number): number[] {
  if (slots.length === 0) return [];
  if (policy === 'all') return slots.slice(-MAX_CATCH_UP);
  const last = slots[slots.length - 1]!;
  if (policy === 'latest') return [last];
  return now - last <= toleranceMs ? [last] : [];
}

/** What can be checked of a schedule without the database. */
export function validateSchedule(s: ScheduleDefinition): void {
  validateName('schedule', s.name);
  validateCron(s.cron, s.timezone);
  validateGlob(s.action.glob);
  validateFolder(s.action.dir);
  if (s.rename !== null) validateRenamePattern(s.rename);
  if (s.action.type === 'pull' && s.after === 'archive') throw new PartnerError('a pull can --then delete the remote file, not archive it');
}

/** Validates a schedule and that its partner and account exist. */
async function checkSchedule(db: Kysely<Database>, s: ScheduleDefinition): Promise<void> {
  validateSchedule(s);
  await requirePartner(db, s.action.partner);
  await requireAccount(db, s.action.account);
}

function scheduleColumns(s: ScheduleDefinition) {
  return {
    cron: s.cron,
    timezone: s.timezone,
    action: JSON.stringify(s.action),
    rename: s.rename,
    after_delivery: s.after,
    catch_up: s.catchUp,
    enabled: s.enabled === false ? 0 : 1,
  };
}

export class ScheduleStore {
  constructor(private readonly db: Kysely<Database>) {}

  async add(s: ScheduleDefinition): Promise<ScheduleRow> {
    await checkSchedule(this.db, s);
    if (await this.find(s.name)) throw new PartnerError(`schedule "${s.name}" already exists`);
    return this.db
      .insertInto('schedules')
      .values({ name: s.name, ...scheduleColumns(s), last_slot: null, created_at: Date.now() })
      .returningAll()
      .executeTakeFirstOrThrow();
  }

  /** Replaces the definition of an existing schedule; its last fired slot stays. */
  async update(s: ScheduleDefinition): Promise<void> {
    await checkSchedule(this.db, s);
    const result = await this.db.updateTable('schedules').set(scheduleColumns(s)).where('name', '=', s.name).executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) throw new PartnerError(`no schedule named "${s.name}"`);
  }

  find(name: string): Promise<ScheduleRow | undefined> {
    return this.db.selectFrom('schedules').selectAll().where('name', '=', name).executeTakeFirst();
  }

  list(): Promise<ScheduleRow[]> {
    return this.db.selectFrom('schedules').selectAll().orderBy('name').execute();
  }

  async remove(name: string): Promise<void> {
    const result = await this.db.deleteFrom('schedules').where('name', '=', name).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw new PartnerError(`no schedule named "${name}"`);
  }
}
