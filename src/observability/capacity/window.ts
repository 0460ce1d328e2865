import { parseDuration } from '../../config/duration.js';
import { parseSince } from '../../config/since.js';
import type { Window } from './intervals.js';

/** More intervals than this is a typo (an interval of 1s over a year), not a report. */
const MAX_INTERVALS = 10_000;

/** A --since or --interval the report cannot use. */
export class CapacityWindowError extends Error {}

/**
 * The report's window from what a user asked for: `since` a duration back from
 * now or an RFC 3339 time (default: the last defaultWindowMs), `interval` a
 * duration of at least 1 s (default: defaultIntervalMs).
 */
export function capacityWindow(asked: { since?: string; interval?: string }, defaults: { windowMs: number; intervalMs: number }, until = Date.now()): Window {
  let since: number;
  let intervalMs = defaults.intervalMs;
  try {
    since = asked.since ? parseSince(asked.since, until) : until - defaults.windowMs;
  } catch (err) {
    throw new CapacityWindowError((err as Error).message);
  }
  if (asked.interval) {
    try {
      intervalMs = parseDuration(asked.interval);
    } catch (err) {
      throw new CapacityWindowError(`invalid interval: ${(err as Error).message}`);
    }
    if (intervalMs < 1000) throw new CapacityWindowError('the interval must be at least 1s');
  }
  if (since >= until) throw new CapacityWindowError('since must be before now');
  if ((until - since) / intervalMs > MAX_INTERVALS) {
    throw new CapacityWindowError(`since and interval make more than ${MAX_INTERVALS} intervals: choose a longer interval`);
  }
  return { since, until, intervalMs };
}
