import { ScheduleStore, scheduleAction, validateSchedule, type ScheduleDefinition, type ScheduleRow } from '../../scheduler/schedules.js';
import type { ScheduleSpec } from '../model.js';
import type { SnapshotKind } from './kind.js';

function definition(spec: ScheduleSpec): ScheduleDefinition {
  const { then, ...rest } = spec;
  return { ...rest, after: then };
}

/** A schedule as the snapshot describes it (`schedule show --json` adds its run state). */
export function scheduleSpec(row: ScheduleRow): ScheduleSpec {
  return {
    name: row.name,
    cron: row.cron,
    timezone: row.timezone,
    action: scheduleAction(row),
    rename: row.rename,
    then: row.after_delivery,
    catchUp: row.catch_up,
    enabled: row.enabled === 1,
  };
}

/** Schedules; when each last fired is run state, not configuration, and stays as it is. */
export const scheduleKind: SnapshotKind<ScheduleSpec> = {
  key: 'schedules',
  noun: 'schedule',

  read: async (db) => (await new ScheduleStore(db).list()).map(scheduleSpec),

  normalize(spec) {
    validateSchedule(definition(spec));
    return spec;
  },

  references: (spec) => [
    { kind: 'partners', name: spec.action.partner },
    { kind: 'accounts', name: spec.action.account },
  ],

  create: async (db, spec) => void (await new ScheduleStore(db).add(definition(spec))),
  update: (db, spec) => new ScheduleStore(db).update(definition(spec)),
  remove: (db, name) => new ScheduleStore(db).remove(name),
};
