import type { DefenderHost } from '../accounts/defender.js';
import { isoTime } from './time.js';

/** The stable JSON shape of an address the defender has seen fail (documented in docs/cli.md). */
export function defenderHostJson(host: DefenderHost, now = Date.now()) {
  const banned = host.banned_until !== null && host.banned_until > now;
  return {
    address: host.address,
    state: banned ? 'banned' : 'watched',
    bannedUntil: banned ? isoTime(host.banned_until) : null,
    /** Failures counted since windowStart (0 right after a ban engages). */
    recentFailures: host.score,
    windowStart: isoTime(host.window_start),
    bans: host.bans,
    lastFailure: isoTime(host.last_event_at),
    lastAccount: host.last_account,
  };
}
