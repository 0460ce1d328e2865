import path from 'node:path';
import type { Kysely, Selectable } from 'kysely';
import type { AccountKeysTable, AccountsTable, Database } from '../db/schema.js';
import { encodeAllowFrom, parseAllowFrom, type AllowFrom } from './allow-from.js';
import { AccountError } from './errors.js';
import { inTransaction } from '../db/transaction.js';
import { hashPassword, isPasswordHash } from './password.js';
import type { ParsedPublicKey } from './public-key.js';

export type AccountRow = Selectable<AccountsTable>;
export type AccountKeyRow = Selectable<AccountKeysTable>;

export { AccountError };

const NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/;

export function validateAccountName(name: string): void {
  if (!NAME.test(name)) {
    throw new AccountError(`invalid account name "${name}": use 1-64 letters, digits, '.', '_' or '-', not starting with '.' or '-'`);
  }
}

/** A home is a relative directory under storage.dir; it may not climb out of it. */
export function validateHome(home: string): string {
  const normal = path.posix.normalize(home.replace(/\\/g, '/')).replace(/\/+$/, '');
  if (!normal || normal === '.' || normal.startsWith('/') || normal.split('/').includes('..') || normal.startsWith('.')) {
    throw new AccountError(`invalid home "${home}": give a directory relative to storage.dir, e.g. partners/acme`);
  }
  return normal;
}

export interface NewAccount {
  name: string;
  password?: string;
  /** A hash as hashPassword writes it (from a snapshot), instead of a password. */
  passwordHash?: string;
  keys: ParsedPublicKey[];
  home?: string;
  /** Networks logins may come from, as the operator wrote them; omitted: any address. */
  allowFrom?: string[];
  disabled?: boolean;
}

/** What `update` changes; a field left out stays as it is. */
export interface AccountChange {
  home?: string;
  passwordHash?: string | null;
  disabled?: boolean;
  /** The account's keys after the change: others are removed, comments updated. */
  keys?: ParsedPublicKey[];
}

const NO_FAILURES = { failure_count: 0, failure_window_start: null, locked_until: null };

function checkPasswordHash(hash: string): void {
  if (!isPasswordHash(hash)) throw new AccountError('invalid password hash: expected scrypt$N$r$p$salt$hash as Ferry writes it');
}

/** Accounts in the database: the only copy, read fresh at every login on every node. */
export class AccountStore {
  constructor(private readonly db: Kysely<Database>) {}

  async add(input: NewAccount): Promise<AccountRow> {
    validateAccountName(input.name);
    const home = validateHome(input.home ?? input.name);
    const allowFrom = input.allowFrom === undefined || input.allowFrom.length === 0 ? null : parseAllowFrom(input.allowFrom);
    if (input.passwordHash !== undefined) checkPasswordHash(input.passwordHash);
    const passwordHash = input.password !== undefined ? await hashPassword(input.password) : (input.passwordHash ?? null);
    const now = Date.now();
    return inTransaction(this.db, async (trx) => {
      const existing = await trx.selectFrom('accounts').select('id').where('name', '=', input.name).executeTakeFirst();
      if (existing) throw new AccountError(`account "${input.name}" already exists`);
      const account = await trx
        .insertInto('accounts')
        .values({
          name: input.name,
          password_hash: passwordHash,
          home,
          disabled: input.disabled ? 1 : 0,
          created_at: now,
          updated_at: now,
          failure_count: 0,
          allow_from: encodeAllowFrom(allowFrom),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await insertKeys(trx, account.id, dedupeKeys(input.keys), now);
      return account;
    });
  }

  /**
   * Changes an existing account in one transaction. A new password hash or
   * enabling the account lifts a lockout, as `passwd` and `enable` do.
   */
  async update(name: string, change: AccountChange): Promise<void> {
    const account = await this.require(name);
    const home = change.home === undefined ? undefined : validateHome(change.home);
    if (change.passwordHash) checkPasswordHash(change.passwordHash);
    const now = Date.now();
    const liftLockout = (change.passwordHash !== undefined && change.passwordHash !== account.password_hash) || change.disabled === false;
    await inTransaction(this.db, async (trx) => {
      await trx
        .updateTable('accounts')
        .set({
          ...(home !== undefined ? { home } : {}),
          ...(change.passwordHash !== undefined ? { password_hash: change.passwordHash } : {}),
          ...(change.disabled !== undefined ? { disabled: change.disabled ? 1 : 0 } : {}),
          ...(liftLockout ? NO_FAILURES : {}),
          updated_at: now,
        })
        .where('id', '=', account.id)
        .execute();
      if (change.keys) await replaceKeys(trx, account.id, dedupeKeys(change.keys), now);
    });
  }

  async find(name: string): Promise<AccountRow | undefined> {
    return this.db.selectFrom('accounts').selectAll().where('name', '=', name).executeTakeFirst();
  }

  async require(name: string): Promise<AccountRow> {
    const account = await this.find(name);
    if (!account) throw new AccountError(`no account named "${name}"`);
    return account;
  }

  async list(): Promise<AccountRow[]> {
    return this.db.selectFrom('accounts').selectAll().orderBy('name').execute();
  }

  /** Which of these accounts still exist and are not disabled (open sessions of the others end). */
  async enabledAmong(ids: number[]): Promise<Set<number>> {
    if (ids.length === 0) return new Set();
    const rows = await this.db.selectFrom('accounts').select('id').where('id', 'in', ids).where('disabled', '=', 0).execute();
    return new Set(rows.map((r) => r.id));
  }

  async keysOf(accountId: number): Promise<AccountKeyRow[]> {
    return this.db.selectFrom('account_keys').selectAll().where('account_id', '=', accountId).orderBy('id').execute();
  }

  async setPassword(name: string, password: string): Promise<void> {
    const account = await this.require(name);
    const hash = await hashPassword(password);
    await this.db
      .updateTable('accounts')
      .set({ password_hash: hash, updated_at: Date.now(), ...NO_FAILURES })
      .where('id', '=', account.id)
      .execute();
  }

  async setDisabled(name: string, disabled: boolean): Promise<void> {
    const account = await this.require(name);
    const change: Partial<AccountRow> = { disabled: disabled ? 1 : 0, updated_at: Date.now() };
    // Enabling an account also lifts a lockout: the operator has looked at it.
    if (!disabled) Object.assign(change, NO_FAILURES);
    await this.db.updateTable('accounts').set(change).where('id', '=', account.id).execute();
  }

  /** Adds a login key; refuses one the account already has. */
  async addKey(name: string, key: ParsedPublicKey): Promise<void> {
    const account = await this.require(name);
    await inTransaction(this.db, async (trx) => {
      const existing = await trx
        .selectFrom('account_keys')
        .select('id')
        .where('account_id', '=', account.id)
        .where('public_key', '=', key.publicKey)
        .executeTakeFirst();
      if (existing) throw new AccountError(`account "${name}" already has the key ${key.fingerprint}`);
      await trx
        .insertInto('account_keys')
        .values({
          account_id: account.id,
          algorithm: key.algorithm,
          public_key: key.publicKey,
          fingerprint: key.fingerprint,
          comment: key.comment,
          created_at: Date.now(),
        })
        .execute();
      await trx.updateTable('accounts').set({ updated_at: Date.now() }).where('id', '=', account.id).execute();
    });
  }

  /** Removes the login key with this fingerprint (SHA256:…). */
  async removeKey(name: string, fingerprint: string): Promise<void> {
    const account = await this.require(name);
    await inTransaction(this.db, async (trx) => {
      const result = await trx.deleteFrom('account_keys').where('account_id', '=', account.id).where('fingerprint', '=', fingerprint).executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) throw new AccountError(`account "${name}" has no key ${fingerprint}`);
      await trx.updateTable('accounts').set({ updated_at: Date.now() }).where('id', '=', account.id).execute();
    });
  }

  /** Replaces the networks the account may log in from (null: any address); the next login on every node sees it. */
  async setAllowFrom(name: string, entries: string[] | null): Promise<AllowFrom> {
    const allowFrom = entries === null ? null : parseAllowFrom(entries);
    const account = await this.require(name);
    await this.db
      .updateTable('accounts')
      .set({ allow_from: encodeAllowFrom(allowFrom), updated_at: Date.now() })
      .where('id', '=', account.id)
      .execute();
    return allowFrom;
  }

  /** Removes the account and its keys; its files stay on storage. */
  async remove(name: string): Promise<void> {
    const account = await this.require(name);
    await inTransaction(this.db, async (trx) => {
      await trx.deleteFrom('account_keys').where('account_id', '=', account.id).execute();
      await trx.deleteFrom('accounts').where('id', '=', account.id).execute();
    });
  }
}

async function insertKeys(db: Kysely<Database>, accountId: number, keys: ParsedPublicKey[], now: number): Promise<void> {
  for (const key of keys) {
    await db
      .insertInto('account_keys')
      .values({
        account_id: accountId,
        algorithm: key.algorithm,
        public_key: key.publicKey,
        fingerprint: key.fingerprint,
        comment: key.comment,
        created_at: now,
      })
      .execute();
  }
}

/** Makes the account's keys exactly `keys`; a key kept keeps its row (and creation time). */
async function replaceKeys(db: Kysely<Database>, accountId: number, keys: ParsedPublicKey[], now: number): Promise<void> {
  const current = await db.selectFrom('account_keys').selectAll().where('account_id', '=', accountId).execute();
  const wanted = new Map(keys.map((k) => [k.publicKey, k]));
  for (const row of current) {
    const key = wanted.get(row.public_key);
    if (!key) await db.deleteFrom('account_keys').where('id', '=', row.id).execute();
    else if (key.comment !== row.comment) await db.updateTable('account_keys').set({ comment: key.comment }).where('id', '=', row.id).execute();
  }
  const kept = new Set(current.map((r) => r.public_key));
  await insertKeys(
    db,
    accountId,
    keys.filter((k) => !kept.has(k.publicKey)),
    now,
  );
}

function dedupeKeys(keys: ParsedPublicKey[]): ParsedPublicKey[] {
  const seen = new Set<string>();
  return keys.filter((k) => !seen.has(k.publicKey) && (seen.add(k.publicKey), true));
}
