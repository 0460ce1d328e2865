import { sql, type RawBuilder } from 'kysely';
import type { Dialect } from './connect.js';

/**
 * The database's clock in epoch milliseconds. Leases and heartbeats are compared
 * on this one clock, so nodes on machines whose clocks disagree still agree on
 * who holds the lease and who stopped heartbeating.
 */
export function dbNow(dialect: Dialect): RawBuilder<number> {
  return dialect === 'postgres'
    ? sql<number>`(extract(epoch from clock_timestamp()) * 1000)::bigint`
    : sql<number>`cast(unixepoch('subsec') * 1000 as integer)`;
}
