import net from 'node:net';
import { sql, type Expression, type Kysely, type RawBuilder, type Selectable, type SqlBool } from 'kysely';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Database, DefenderHostsTable } from '../db/schema.js';
import { networkMatcher } from '../config/networks.js';
import { parseAllowFrom, parseCidr } from './allow-from.js';

/**
 * The defender bans client addresses that fail to log in too often, cluster-wide:
 * its state is one row per address in `defender_hosts` (this module is its only
 * writer), so a ban engaged on one node refuses the address on every node. The
 * design follows SFTPGo's defender and fail2ban: failures score points within an
 * observation window; at the threshold the address is banned for `banTimeMs`,
 * each further ban of the same address twice as long (up to `banTimeMaxMs`);
 * addresses on the safe list are never counted nor banned.
 */
export interface DefenderPolicy {
  enabled: boolean;
  /** Points within windowMs that ban the address. */
  threshold: number;
  windowMs: number;
  banTimeMs: number;
  banTimeMaxMs: number;
  /** Networks (CIDRs) never banned. */
  safeList: string[];
}

export type DefenderHost = Selectable<DefenderHostsTable>;

/** What a failed login did to its address's record. */
export interface FailureOutcome {
  /** The address was banned before this failure was counted (a login that raced the ban). */
  alreadyBanned: boolean;
  /** The ban this failure engaged. */
  bannedNow?: { address: string; until: number; bans: number };
}

/** Points a failed password login scores. */
const PASSWORD_FAILURE_SCORE = 1;
/**
 * A ban this worker learnt is believed for this long without asking the database
 * again, so a flood of connections from a banned address costs no round trip each;
 * an operator's unban reaches every worker within this time.
 */
const BAN_CACHE_MS = 1000;
const BAN_CACHE_LIMIT = 10_000;
const ACCOUNT_NAME_LIMIT = 64;

/**
 * The form an address is counted under: IPv4 dotted (also when a dual-stack listener
 * reports it IPv4-mapped), IPv6 compressed, without a zone; anything else as given.
 */
export function canonicalAddress(address: string): string {
  const bare = address.replace(/%.*$/, '');
  if (net.isIP(bare) !== 6) return bare.slice(0, 64);
  const canonical = parseCidr(bare).replace(/\/128$/, '');
  return /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(canonical)?.[1] ?? canonical;
}

/** Checks an address for the admin commands: the canonical form, or an error naming it. */
export function parseAddress(text: string): string {
  const address = canonicalAddress(text.trim());
  if (net.isIP(address) === 0) throw new DefenderError(`invalid address "${text}": give an IPv4 or IPv6 address`);
  return address;
}

export class DefenderError extends Error {}

/** The safe list in canonical form; a bad entry throws a ConfigError naming the setting and the entry. */
export function parseSafeList(entries: string[]): string[] {
  if (entries.length === 0) return [];
  try {
    return parseAllowFrom(entries);
  } catch (err) {
    throw new ConfigError(`invalid configuration: defender.safe_list (FERRY_DEFENDER_SAFE_LIST): ${(err as Error).message}`);
  }
}

/** The node's defender from its settings. */
export function defenderOf(db: Kysely<Database>, config: Config): Defender {
  const d = config.defender;
  return new Defender(db, {
    enabled: d.enabled,
    threshold: d.threshold,
    windowMs: d.window,
    banTimeMs: d.ban_time,
    banTimeMaxMs: d.ban_time_max,
    safeList: d.safe_list,
  });
}

export class Defender {
  /** The safe list, matched without building it again per login. */
  private readonly safe: (address: string) => boolean;
  /** Bans this worker knows of: address -> [banned until, believed until]. */
  private readonly known = new Map<string, [number, number]>();

  constructor(
    private readonly db: Kysely<Database>,
    readonly policy: DefenderPolicy,
  ) {
    this.safe = networkMatcher(parseSafeList(policy.safeList));
  }

  isSafe(address: string): boolean {
    return this.safe(address);
  }

  /** Whether this worker learnt within BAN_CACHE_MS that the address is banned: no database read. */
  knownBanned(clientAddress: string): boolean {
    const cached = this.known.get(canonicalAddress(clientAddress));
    const now = Date.now();
    return cached !== undefined && cached[0] > now && cached[1] > now;
  }

  /**
   * When the address's ban ends, or null when it is not banned: from what this
   * worker learnt within BAN_CACHE_MS, else one read of one row.
   */
  async bannedUntil(clientAddress: string): Promise<number | null> {
    if (!this.policy.enabled || this.isSafe(clientAddress)) return null;
    const address = canonicalAddress(clientAddress);
    const now = Date.now();
    const cached = this.known.get(address);
    if (cached && cached[1] > now && cached[0] > now) return cached[0];
    this.known.delete(address);
    const row = await this.db.selectFrom('defender_hosts').select('banned_until').where('address', '=', address).executeTakeFirst();
    const until = row?.banned_until ?? null;
    if (until === null || until <= now) return null;
    this.remember(address, until, now);
    return until;
  }

  /** Whether the address is banned now; the SSH service asks at the start of each connection. */
  async isBanned(clientAddress: string): Promise<boolean> {
    return (await this.bannedUntil(clientAddress)) !== null;
  }

  /**
   * Counts a failed password login from the address, and bans it when this failure
   * reaches the threshold: one statement, so of failures racing on several workers
   * and nodes exactly the threshold-th engages the ban, and every later one sees it.
   * Returns undefined for a safe address, else whether the address was banned
   * already (then the failure came too late to count: it is no new guess) and the
   * ban this failure engaged, if it did.
   */
  async recordFailure(clientAddress: string, accountName: string): Promise<FailureOutcome | undefined> {
    if (!this.policy.enabled || this.isSafe(clientAddress)) return undefined;
    const address = canonicalAddress(clientAddress);
    const now = Date.now();
    const { threshold } = this.policy;
    // Times as bigint literals: PostgreSQL would type a bare parameter next to an integer as integer.
    const at = sql.lit(now);
    const bannedBefore = sql<boolean>`(defender_hosts.banned_until is not null and defender_hosts.banned_until > ${at})`;
    const stale = sql<boolean>`defender_hosts.window_start < ${sql.lit(now - this.policy.windowMs)}`;
    const score = sql<number>`(case when ${stale} then 0 else defender_hosts.score end + ${sql.lit(PASSWORD_FAILURE_SCORE)})`;
    const bansNow = sql<boolean>`(not ${bannedBefore} and ${score} >= ${sql.lit(threshold)})`;
    const first = PASSWORD_FAILURE_SCORE >= threshold;
    const row = await this.db
      .insertInto('defender_hosts')
      .values({
        address,
        score: first ? 0 : PASSWORD_FAILURE_SCORE,
        window_start: now,
        banned_until: first ? now + this.banTime(0) : null,
        bans: first ? 1 : 0,
        last_event_at: now,
        last_account: accountName.slice(0, ACCOUNT_NAME_LIMIT),
      })
      .onConflict((oc) =>
        oc.column('address').doUpdateSet({
          // Every expression reads the row as it was before this statement.
          score: sql`case when ${bannedBefore} then defender_hosts.score when ${bansNow} then 0 else ${score} end`,
          window_start: sql`case when ${bannedBefore} then defender_hosts.window_start when ${bansNow} or ${stale} then ${at} else defender_hosts.window_start end`,
          banned_until: sql`case when ${bansNow} then ${at} + ${this.banTimeOf(sql.ref('defender_hosts.bans'))} else defender_hosts.banned_until end`,
          bans: sql`case when ${bansNow} then defender_hosts.bans + 1 else defender_hosts.bans end`,
          last_event_at: now,
          last_account: (eb) => eb.ref('excluded.last_account'),
        }),
      )
      .returning(['score', 'window_start', 'banned_until', 'bans'])
      .executeTakeFirstOrThrow();
    if (row.banned_until === null || row.banned_until <= now) return { alreadyBanned: false };
    this.remember(address, row.banned_until, now);
    // Only a ban engaged by this statement restarts the window at this very moment with no score.
    const engaged = row.window_start === now && row.score === 0;
    return engaged ? { alreadyBanned: false, bannedNow: { address, until: row.banned_until, bans: row.bans } } : { alreadyBanned: true };
  }

  /** The length of an address's ban after `bans` earlier ones: ban_time doubled each time, up to ban_time_max. */
  private banTime(bans: number): number {
    return Math.min(this.policy.banTimeMs * 2 ** Math.min(bans, 40), this.policy.banTimeMaxMs);
  }

  /** banTime as SQL over a column, as a CASE over the few counts below the cap (no pow() in SQLite). */
  private banTimeOf(bans: RawBuilder<unknown> | ReturnType<typeof sql.ref>) {
    const steps: RawBuilder<unknown>[] = [];
    for (let n = 0; this.banTime(n) < this.policy.banTimeMaxMs && n < 40; n++) steps.push(sql`when ${sql.lit(n)} then ${sql.lit(this.banTime(n))}`);
    return sql<number>`(case ${bans} ${sql.join(steps, sql` `)} else ${sql.lit(this.policy.banTimeMaxMs)} end)`;
  }

  private remember(address: string, until: number, now: number): void {
    if (this.known.size >= BAN_CACHE_LIMIT) this.known.clear();
    this.known.set(address, [until, now + BAN_CACHE_MS]);
  }
}

/** What operators see and change (`ferry defender`, the admin API): reads and writes of the same table. */
export class DefenderHosts {
  constructor(private readonly db: Kysely<Database>) {}

  /** Banned addresses and those with failures in the last `windowMs`, bans first, longest first. */
  async list(windowMs: number, now = Date.now()): Promise<DefenderHost[]> {
    return this.db
      .selectFrom('defender_hosts')
      .selectAll()
      .where((eb) => eb.or([eb('banned_until', '>', now), eb.and([eb('score', '>', 0), eb('window_start', '>=', now - windowMs)])]))
      .orderBy(sql`coalesce(banned_until, 0)`, 'desc')
      .orderBy('address')
      .execute();
  }

  /**
   * Lifts the address's ban and forgets its failures and earlier bans. Returns the
   * address in canonical form, or null when it had no record.
   */
  async unban(text: string): Promise<string | null> {
    const address = parseAddress(text);
    const result = await this.db.deleteFrom('defender_hosts').where('address', '=', address).executeTakeFirst();
    return Number(result.numDeletedRows) > 0 ? address : null;
  }
}

/**
 * Housekeeping (primary only, fenced): deletes the records of addresses with no
 * failure and no ban since `before`; until then a new ban of theirs grows.
 */
export async function purgeDefenderHosts(db: Kysely<Database>, before: number, fence: Expression<SqlBool>): Promise<number> {
  const result = await db
    .deleteFrom('defender_hosts')
    .where('last_event_at', '<', before)
    .where((eb) => eb.or([eb('banned_until', 'is', null), eb('banned_until', '<', before)]))
    .where(fence)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
