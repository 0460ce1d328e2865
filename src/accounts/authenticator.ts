import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { AccountRow } from './account-store.js';
import { decodeAllowFrom, isAllowed } from './allow-from.js';
import { DUMMY_HASH, verifyPassword } from './password.js';

export interface LockoutPolicy {
  failures: number;
  windowMs: number;
  durationMs: number;
}

export type LoginRefusal = 'unknown-account' | 'address-not-allowed' | 'disabled' | 'locked' | 'wrong-password' | 'no-password' | 'unknown-key';

export type LoginResult = { ok: true; account: AccountRow } | { ok: false; reason: LoginRefusal; lockedNow?: boolean };

/**
 * Decides logins from the database on every attempt, so a password change, a
 * disabled account, a lockout or a changed allow-list takes effect at once on
 * every node.
 */
export class Authenticator {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly lockout: LockoutPolicy,
  ) {}

  private async load(name: string): Promise<AccountRow | undefined> {
    return this.db.selectFrom('accounts').selectAll().where('name', '=', name).executeTakeFirst();
  }

  private refusalOf(account: AccountRow | undefined, clientAddress: string, now: number): LoginRefusal | undefined {
    if (!account) return 'unknown-account';
    if (!isAllowed(decodeAllowFrom(account.allow_from), clientAddress)) return 'address-not-allowed';
    if (account.disabled) return 'disabled';
    if (account.locked_until !== null && account.locked_until > now) return 'locked';
    return undefined;
  }

  async password(name: string, password: string, clientAddress: string): Promise<LoginResult> {
    const now = Date.now();
    const account = await this.load(name);
    const refusal = this.refusalOf(account, clientAddress, now);
    if (refusal) {
      // Same cost as a real check, so timing reveals neither which accounts exist nor
      // whether the password was right. A refused address is no guess at the
      // password: it is not counted, so nobody outside the list can lock the account.
      await verifyPassword(password, DUMMY_HASH);
      return { ok: false, reason: refusal };
    }
    if (!account!.password_hash) return { ok: false, reason: 'no-password' };
    if (await verifyPassword(password, account!.password_hash)) {
      await this.clearFailures(account!);
      return { ok: true, account: account! };
    }
    const lockedNow = await this.recordFailure(account!.id, clientAddress, now);
    return { ok: false, reason: 'wrong-password', lockedNow };
  }

  /** Checks that `keyBase64` is one of the account's keys (the signature is checked by the caller). */
  async publicKey(name: string, keyBase64: string, clientAddress: string): Promise<LoginResult> {
    const account = await this.load(name);
    const refusal = this.refusalOf(account, clientAddress, Date.now());
    if (refusal) return { ok: false, reason: refusal };
    const key = await this.db
      .selectFrom('account_keys')
      .select('id')
      .where('account_id', '=', account!.id)
      .where('public_key', '=', keyBase64)
      .executeTakeFirst();
    if (!key) return { ok: false, reason: 'unknown-key' };
    await this.clearFailures(account!);
    return { ok: true, account: account! };
  }

  private async clearFailures(account: AccountRow): Promise<void> {
    if (account.failure_count === 0 && account.locked_until === null) return;
    await this.db
      .updateTable('accounts')
      .set({ failure_count: 0, failure_window_start: null, locked_until: null })
      .where('id', '=', account.id)
      .execute();
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
    await this.db
      .updateTable('accounts')
      .set({ locked_until: now + this.lockout.durationMs })
      .where('id', '=', accountId)
      .execute();
    return true;
  }
}
