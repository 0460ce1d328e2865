import { parseDuration } from './duration.js';

/**
 * A --since value as epoch milliseconds: a duration back from now ("24h", "7d") or
 * an RFC 3339 time ("2026-11-25T00:00:00Z"; a date alone is midnight UTC).
 */
export function parseSince(value: string, now = Date.now()): number {
  if (/^\d{4}-\d{2}-\d{2}([Tt ].*)?$/.test(value)) {
    const time = Date.parse(value);
    if (Number.isNaN(time)) throw new Error(`invalid --since "${value}": not a valid time`);
    if (time > now) throw new Error(`invalid --since "${value}": it is in the future`);
    return time;
  }
  try {
    return now - parseDuration(value);
  } catch {
    throw new Error(`invalid --since "${value}" (expected a duration such as 24h or 7d, or a time such as 2026-11-25T00:00:00Z)`);
  }
}
