import { fingerprintOf } from '../accounts/public-key.js';
import type { MonitorRow } from '../monitor/monitors.js';
import { partnerSettings, type PartnerRow } from '../routing/partners.js';
import type { RouteRow } from '../routing/routes.js';
import { cronOf, type ScheduleRow } from '../scheduler/schedules.js';
import { monitorSpec } from '../snapshot/kinds/monitors.js';
import { routeSpec } from '../snapshot/kinds/routes.js';
import { scheduleSpec } from '../snapshot/kinds/schedules.js';
import { isoTime } from './time.js';

/** The stable JSON shape of a partner (documented in docs/cli.md); secrets never appear. */
export function partnerJson(row: PartnerRow) {
  const s = partnerSettings(row);
  return {
    name: row.name,
    protocol: row.protocol,
    url: row.url,
    ...(s.protocol === 'sftp'
      ? {
          auth: s.privateKey ? 'key' : s.password ? 'password' : 'none',
          hostKey: s.hostKey ? fingerprintOf(Buffer.from(s.hostKey, 'base64')) : null,
        }
      : { method: s.method, headers: Object.keys(s.headers), ca: s.ca !== undefined }),
    created: isoTime(row.created_at),
    updated: isoTime(row.updated_at),
  };
}

/** The stable JSON shape of a route (documented in docs/cli.md). */
export function routeJson(row: RouteRow) {
  return { ...routeSpec(row), created: isoTime(row.created_at) };
}

/** The stable JSON shape of a schedule (documented in docs/cli.md). */
export function scheduleJson(row: ScheduleRow) {
  let next: string | null = null;
  try {
    next = cronOf(row).nextRun()?.toISOString() ?? null;
  } catch {}
  const { enabled, ...definition } = scheduleSpec(row);
  return { ...definition, lastSlot: isoTime(row.last_slot), next, enabled, created: isoTime(row.created_at) };
}

/** The stable JSON shape of a folder monitor (documented in docs/cli.md). */
export function monitorJson(row: MonitorRow) {
  return { ...monitorSpec(row), created: isoTime(row.created_at) };
}
