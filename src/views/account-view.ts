import type { AccountKeyRow, AccountRow } from '../accounts/account-store.js';
import { decodeAllowFrom } from '../accounts/allow-from.js';
import { isoTime } from './time.js';

export function accountState(account: AccountRow, now = Date.now()): string {
  if (account.disabled) return 'disabled';
  if (account.locked_until !== null && account.locked_until > now) return 'locked';
  return 'enabled';
}

/** The stable JSON shape of an account (documented in docs/cli.md). */
export function accountJson(account: AccountRow, keys: AccountKeyRow[]) {
  return {
    name: account.name,
    state: accountState(account),
    home: account.home,
    password: account.password_hash !== null,
    keys: keys.map((k) => ({ algorithm: k.algorithm, fingerprint: k.fingerprint, comment: k.comment })),
    created: isoTime(account.created_at),
    updated: isoTime(account.updated_at),
    allowFrom: decodeAllowFrom(account.allow_from),
    lockout: {
      recentFailures: account.failure_count,
      lastFailure: isoTime(account.last_failure_at),
      lastFailureAddress: account.last_failure_address,
      lockedUntil: account.locked_until !== null && account.locked_until > Date.now() ? isoTime(account.locked_until) : null,
    },
  };
}
