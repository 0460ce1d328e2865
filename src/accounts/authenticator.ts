import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { AccountRow } from './account-store.js';
import { decodeAllowFrom, isAllowed } from './allow-from.js';
import { canonicalAddress, type Defender } from './defender.js';
import type { HashSlots } from './hash-slots.js';
import { DUMMY_HASH, verifyPassword } from './password.js';

export interface LockoutPolicy {
  failures: number;
  windowMs: number;
  durationMs: number;
  /** Whether a locked account also refuses its keys; by default wrong passwords lock out passwords only. */
  keys?: boolean;
}

/** What guards logins beyond the account's own lockout; each part is optional. */
export interface LoginGuards {
  /** Bans addresses that fail too often, cluster-wide; checked before anything else. */
  defender?: Defender;
  /** Bounds the password hashes in flight per client address. */
  hashSlots?: HashSlots;
  /** Called for every password hash computed, dummy ones included (the ferry_password_hashes_total metric). */
  onHash?: () => void;
}

export type LoginRefusal =
  'banned' | 'busy' | 'unknown-account' | 'address-not-allowed' | 'disabled' | 'locked' | 'wrong-password' | 'no-password' | 'unknown-key';

export type LoginResult =
  { ok: true; account: AccountRow } | { ok: false; reason: LoginRefusal; lockedNow?: boolean; bannedNow?: { address: string; until: number; bans: number } };

/**
 * Decides logins from the database on every attempt, so a password change, a
 * disabled account, a lockout, a ban or a changed allow-list takes effect at once
 * on every node.
 */
export class Authenticator {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly lockout: LockoutPolicy,
    private readonly guards: LoginGuards = {},
  ) {}

  private async load(name: string): Promise<AccountRow | undefined> {
    return this.db.selectFrom('accounts').selectAll().where('name', '=', name).executeTakeFirst();
  }

  /** The account and whether the address is banned, read in parallel: one round trip's wait. */
  private async loadGuarded(name: string, clientAddress: string): Promise<[AccountRow | undefined, boolean]> {
    const [account, bannedUntil] = await Promise.all([this.load(name), this.guards.defender?.bannedUntil(clientAddress) ?? null]);
    return [account, bannedUntil !== null];
  }

  private refusalOf(account: AccountRow | undefined, clientAddress: string, now: number, method: 'password' | 'key'): LoginRefusal | undefined {
    if (!account) return 'unknown-account';
    if (!isAllowed(decodeAllowFrom(account.allow_from), clientAddress)) return 'address-not-allowed';
    if (account.disabled) return 'disabled';
    if (account.locked_until !== null && account.locked_until > now && (method === 'password' || this.lockout.keys)) return 'locked';
    if (method === 'password' && !account.password_hash) return 'no-password';
    return undefined;
  }

  private verify(password: string, hash: string): Promise<boolean> {
    this.guards.onHash?.();
    return verifyPassword(password, hash);
  }

  async password(name: string, password: string, clientAddress: string): Promise<LoginResult> {
    // A banned address is refused before any hashing, whatever the account: nothing to learn from it.
    // Here only from what this worker knows (no round trip); the database is read in the slot.
    if (this.guards.defender?.knownBanned(clientAddress)) return { ok: false, reason: 'banned' };
    const attempt = () => this.passwordAttempt(name, password, clientAddress);
    const result = this.guards.hashSlots ? await this.guards.hashSlots.run(canonicalAddress(clientAddress), attempt) : await attempt();
    // Too many attempts of this address wait for their turn already: refused unhashed. Not
    // counted against the address: a script's parallel logins are no guesses.
    return result === 'busy' ? { ok: false, reason: 'busy' } : result;
  }

  /** One password check, holding the address's hash slot until its failure is recorded. */
  private async passwordAttempt(name: string, password: string, clientAddress: string): Promise<LoginResult> {
    // Read after waiting for the slot: a ban engaged meanwhile (on any node) is seen.
    const [account, banned] = await this.loadGuarded(name, clientAddress);
    if (banned) return { ok: false, reason: 'banned' };
    const refusal = this.refusalOf(account, clientAddress, Date.now(), 'password');
    if (refusal) {
      // Same cost as a real check on every path (no account, no password, disabled,
      // locked), so timing reveals neither which accounts exist nor which have a
      // password nor whether the password was right.
      await this.verify(password, DUMMY_HASH);
      const outcome = await this.guards.defender?.recordFailure(clientAddress, name);
      // A refused address is no guess at the account's password: it is not counted
      // on the account, so nobody outside its list can lock it.
      return { ok: false, reason: refusal, bannedNow: outcome?.bannedNow };
    }
    if (await this.verify(password, account!.password_hash!)) {
      await this.clearFailures(account!);
      return { ok: true, account: account! };
    }
    // The address first: a guess that raced its address's ban (hashed on another worker
    // or node meanwhile) does not count on the account, so one address never brings
    // more than defender.threshold guesses to an account's lockout.
    const outcome = await this.guards.defender?.recordFailure(clientAddress, name);
    if (outcome?.alreadyBanned) return { ok: false, reason: 'banned' };
    const lockedNow = await this.recordFailure(account!.id, clientAddress, Date.now());
    return { ok: false, reason: 'wrong-password', lockedNow, bannedNow: outcome?.bannedNow };
  }

  /** Checks that `keyBase64` is one of the account's keys (the signature is checked by the caller). */
  async publicKey(name: string, keyBase64: string, clientAddress: string): Promise<LoginResult> {
    const [account, banned] = await this.loadGuarded(name, clientAddress);
    if (banned) return { ok: false, reason: 'banned' };
    const refusal = this.refusalOf(account, clientAddress, Date.now(), 'key');
    if (refusal) return { ok: false, reason: refusal };
    const key = await this.db
      .selectFrom('account_keys')
      .select('id')
      .where('account_id', '=', account!.id)
      .where('public_key', '=', keyBase64)
      .executeTakeFirst();
    if (!key) return { ok: false, reason: 'unknown-key' };
    // A key login proves the account's owner: it clears password failures, but not a lockout
    // that only applies to passwords (the guesser is still out there).
    if (account!.locked_until === null || account!.locked_until <= Date.now()) await this.clearFailures(account!);
    return { ok: true, account: account! };
  }

  private async clearFailures(account: AccountRow): Promise<void> {
    if (account.failure_count === 0 && account.locked_until === null) return;
    await this.db.updateTable('accounts').set({ failure_count: 0, failure_window_start: null, locked_until: null }).where('id', '=', account.id).execute();
  }

  /** Counts a failure in the current window (one statement) and locks the account at the limit. */
  private async recordFailure(accountId: number, clientAddress: string, now: number): Promise<boolean> {
    const windowStart = now - this.lockout.windowMs;
    const fresh = sql<boolean>`failure_window_start is null or failure_window_start < ${windowStart}`;
    const row = await this.db
      .updateTable('accounts')
      .set({
        failure_count: sql`case when ${fresh} then 1 else failure_count + 1 end`,
        failure_window_start: sql`case when ${fresh} then ${now} else failure_window_start end`,
        last_failure_at: now,
        last_failure_address: clientAddress,
      })
      .where('id', '=', accountId)
      .returning('failure_count')
      .executeTakeFirst();
    if (!row || row.failure_count < this.lockout.failures) return false;
    // Only the failure that engages the lockout says so, however many raced it.
    const locked = await this.db
      .updateTable('accounts')
      .set({ locked_until: now + this.lockout.durationMs })
      .where('id', '=', accountId)
      .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<=', now)]))
      .executeTakeFirst();
    return Number(locked.numUpdatedRows) === 1;
  }
}
